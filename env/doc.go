// Package env resolves Studio's configuration: the MASTRA_* values that
// studiobake writes into the baked index.html.
//
// Sources, highest first: explicit values (command-line flags); the process
// environment; --env-file files (a later file overrides an earlier one);
// .env.production; .env — the mastra CLI's order. Every value is validated and
// normalised once, in Load, and each failure names the variable and the value:
//
//	invalid MASTRA_SERVER_PORT "80a": not a port number (1-65535) (from .env)
//
// When several values are invalid, the error has one such line for each.
//
// Only known MASTRA_* names are ever kept: other variables of the environment
// or of a .env file (API keys, database URLs) never reach a Config, and a
// malformed .env is reported by path and line without quoting its content.
//
// Rules chosen where mastra leaves room:
//
//   - Sources.Flags holds only flags the user set; an empty value there is a
//     value (for the port, "use the protocol's port"). Sources.Environ is not
//     defaulted: callers pass os.Environ().
//   - --server-url sets protocol, host, port (443/80 when absent) and API
//     prefix, above the environment and files. A flag for one of those four
//     variables is more specific and wins, with a warning. A URL without a
//     path (or with "/") leaves the prefix to the other sources.
//   - Empty means the default for the host, protocol, API prefix and the
//     switches; an empty port means the protocol's port (443 for https), never
//     a blank in the page, which Studio would read as 4111. An unset port is
//     mastra's 4111 for http and 443 for https.
//   - The host is a bare name or IP; IPv6 is written in brackets ([::1])
//     because Studio builds protocol://host:port.
//   - The API prefix gets a leading "/" and loses trailing ones, like the
//     mastra CLI's normaliser; "/" is an error, since Studio reads an empty
//     prefix as /api and cannot call an API at the root.
//   - Switches are written "true"/"false", also where mastra writes an empty
//     string (the SPA reads both alike).
//   - Request context presets are compacted with their key order kept: Studio
//     lists presets in that order. --request-context-presets FILE overrides
//     MASTRA_REQUEST_CONTEXT_PRESETS from any source but a flag for it, which
//     together with the file is an error.
//   - MASTRA_DEV_SERVER_INSTANCE_ID only serves the dev server's reload
//     script: it is always written empty, and a set value is warned about.
package env
