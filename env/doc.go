// Package env resolves Studio's configuration: the MASTRA_* values that
// studiobake writes into the baked index.html.
//
// Sources, highest first: explicit values (command-line flags); the process
// environment; --env-file files (a later file overrides an earlier one);
// .env.production; .env — the mastra CLI's order. Every value is validated and
// normalised once, in Load, and each failure names the variable and the value.
package env
