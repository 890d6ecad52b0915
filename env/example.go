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
	b.WriteString("# Precedence, highest first: flags, the process environment, --env-file files,\n")
	b.WriteString("# .env.production, .env. Only MASTRA_* names are read; other lines are ignored.\n")
	for _, v := range Vars {
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
