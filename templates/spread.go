package templates

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// esbuild marks spread in array literals as a feature but not spread in
// call arguments (f(...a)), which cloudfront-js-2.0 lacks as well; rest
// parameters, which it has, look the same to a text search. goja's parser
// tells them apart: spread arguments and elements are SpreadElement nodes,
// rest parameters are not.

var importStmt = regexp.MustCompile(`(?m)^\s*import\s+[A-Za-z_$][\w$]*\s+from\s*["'][^"']+["'];?`)

func checkSpread(code string) error {
	prog, err := parser.ParseFile(nil, "function.js", importStmt.ReplaceAllString(code, ""), 0)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	found := false
	walk(reflect.ValueOf(prog), func(v reflect.Value) bool {
		if _, ok := v.Interface().(*ast.SpreadElement); ok {
			found = true
		}
		return !found
	})
	if found {
		return fmt.Errorf("cloudfront-js-2.0 does not support spread (...) in calls or literals")
	}
	return nil
}

// walk visits every pointer reachable from v through structs, slices and
// interfaces, until visit returns false.
func walk(v reflect.Value, visit func(reflect.Value) bool) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return true
		}
		return visit(v) && walk(v.Elem(), visit)
	case reflect.Interface:
		return v.IsNil() || walk(v.Elem(), visit)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !walk(v.Field(i), visit) {
				return false
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if !walk(v.Index(i), visit) {
				return false
			}
		}
	}
	return true
}
