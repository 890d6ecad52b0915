package env

import (
	"fmt"
	"strings"
)

// exampleFile renders .env.example from Vars, so that the file cannot drift
// from the code (TestEnvExample compares the two).
func exampleFile() string {
	var b strings.Builder
	b.WriteString("# Studio settings that studiobake bakes into index.html, with their defaults.\n")
	b.WriteString("# Generated from env.Vars: run `UPDATE_SNAPSHOTS=1 go test ./env/` after changing them.\n")
	b.WriteString("# Precedence, highest first: flags, the process environment, .env.[mode].local,\n")
	b.WriteString("# .env.[mode] (--mode, default production), .env.local, .env; --env-file files replace\n")
	b.WriteString("# the .env files (unless --mode is given too). Only MASTRA_* names are read.\n")
	for _, v := range Vars {
		if v.Name == namePort {
			// Left unset, the port follows the protocol (4111 for mastra's
			// http dev server, 443 for https): a copied 4111 would survive
			// a switch to https.
			fmt.Fprintf(&b, "\n# %s; unset: 4111 for http, 443 for https\n# %s=%s\n", v.Doc, v.Name, exampleValue(v.Default))
			continue
		}
		fmt.Fprintf(&b, "\n# %s\n%s=%s\n", v.Doc, v.Name, exampleValue(v.Default))
	}
	return b.String()
}

// exampleValue single-quotes a value that dotenv would otherwise misread.
func exampleValue(v string) string {
	if strings.ContainsAny(v, " #\"'$\\") {
		return "'" + v + "'"
	}
	return v
}
