package cdn

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// The CloudFormation resource specification, as the npm package
// @aws-cdk/cfnspec ships it (spec/specification.json): .ci/run installs it
// pinned and sets STUDIOBAKE_CFNSPEC to the file.

type cfnSpec struct {
	Version       string              `json:"ResourceSpecificationVersion"`
	PropertyTypes map[string]specType `json:"PropertyTypes"`
	ResourceTypes map[string]specType `json:"ResourceTypes"`
}

type specType struct {
	Properties map[string]specProp `json:"Properties"`
	Attributes map[string]any      `json:"Attributes"`
}

type specProp struct {
	Required          bool
	Type              string
	ItemType          string
	PrimitiveType     string
	PrimitiveItemType string
}

// specSupplement holds what CloudFormation added after the newest
// specification the package ships (130.1.0): the KeyValueStore association
// of a function and the KeyValueStore resource (2023-11).
// goformation, generated from a later specification, has the same
// properties with the same shapes; the resource is as the CloudFormation
// reference documents it (aws-resource-cloudfront-keyvaluestore: Name
// required, Comment, ImportSource; attributes Arn, Id, Status).
var specSupplement = map[string]map[string]specProp{
	"AWS::CloudFront::Function.FunctionConfig": {
		"KeyValueStoreAssociations": {Type: "List", ItemType: "KeyValueStoreAssociation"},
	},
	"AWS::CloudFront::Function.KeyValueStoreAssociation": {
		"KeyValueStoreARN": {Required: true, PrimitiveType: "String"},
	},
	"AWS::CloudFront::KeyValueStore.ImportSource": {
		"SourceArn":  {Required: true, PrimitiveType: "String"},
		"SourceType": {Required: true, PrimitiveType: "String"},
	},
}

var specResourceSupplement = map[string]specType{
	"AWS::CloudFront::KeyValueStore": {
		Properties: map[string]specProp{
			"Name":         {Required: true, PrimitiveType: "String"},
			"Comment":      {PrimitiveType: "String"},
			"ImportSource": {Type: "ImportSource"},
		},
		Attributes: map[string]any{"Arn": map[string]any{}, "Id": map[string]any{}, "Status": map[string]any{}},
	},
}

func loadSpec(t *testing.T) *cfnSpec {
	t.Helper()
	p := os.Getenv("STUDIOBAKE_CFNSPEC")
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("STUDIOBAKE_CFNSPEC unset: CI checks the stack against the CloudFormation resource specification (.ci/run installs @aws-cdk/cfnspec)")
		}
		t.Skip("STUDIOBAKE_CFNSPEC unset: npm pack @aws-cdk/cfnspec and point it at package/spec/specification.json")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var s cfnSpec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if len(s.ResourceTypes) < 500 {
		t.Fatalf("%s holds %d resource types: not the full specification", p, len(s.ResourceTypes))
	}
	for name, props := range specSupplement {
		pt := s.PropertyTypes[name]
		if pt.Properties == nil {
			pt.Properties = map[string]specProp{}
		}
		for k, v := range props {
			if _, ok := pt.Properties[k]; !ok {
				pt.Properties[k] = v
			}
		}
		s.PropertyTypes[name] = pt
	}
	for name, rt := range specResourceSupplement {
		if _, ok := s.ResourceTypes[name]; !ok {
			s.ResourceTypes[name] = rt
		}
	}
	return &s
}

// specCheck validates a parsed template against the specification: every
// resource type known, every property name known, required properties
// present, values of the declared kind, through nested property types;
// every Ref and Fn::GetAtt names something the template or CloudFormation
// defines. It returns one line per problem.
type specCheck struct {
	spec     *cfnSpec
	tpl      map[string]any
	problems []string
}

func (c *specCheck) addf(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

func (c *specCheck) run() []string {
	res, _ := c.tpl["Resources"].(map[string]any)
	if len(res) == 0 {
		c.addf("no Resources")
	}
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		typ, _ := r["Type"].(string)
		rt, ok := c.spec.ResourceTypes[typ]
		if !ok {
			c.addf("%s: unknown resource type %q", id, typ)
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		c.object(id, typ, rt.Properties, props)
	}
	for _, section := range []string{"Outputs", "Conditions", "Rules"} {
		m, _ := c.tpl[section].(map[string]any)
		for _, k := range sortedKeys(m) {
			c.refs(section+"."+k, m[k])
		}
	}
	sort.Strings(c.problems)
	return c.problems
}

// object checks a resource's or property type's properties.
func (c *specCheck) object(where, resType string, spec map[string]specProp, v map[string]any) {
	for _, k := range sortedKeys(v) {
		p, ok := spec[k]
		if !ok {
			c.addf("%s: unknown property %q", where, k)
			continue
		}
		c.value(where+"."+k, resType, p.Type, p.ItemType, p.PrimitiveType, p.PrimitiveItemType, v[k])
	}
	for k, p := range spec {
		if _, ok := v[k]; p.Required && !ok {
			c.addf("%s: required property %q missing", where, k)
		}
	}
}

// value checks one value against its declared kind; an intrinsic function
// stands for any value, except that each branch of Fn::If is checked too.
func (c *specCheck) value(where, resType, typ, itemType, prim, primItem string, v any) {
	if fn, args, ok := intrinsic(v); ok {
		c.refs(where, v)
		if fn == "Fn::If" {
			if a, ok := args.([]any); ok && len(a) == 3 {
				for _, branch := range a[1:] {
					if f, arg, _ := intrinsic(branch); f == "Ref" && arg == "AWS::NoValue" {
						continue
					}
					c.value(where+"(Fn::If)", resType, typ, itemType, prim, primItem, branch)
				}
			}
		}
		return
	}
	switch {
	case prim != "":
		if !primitiveOK(prim, v) {
			c.addf("%s: %v is not a %s", where, v, prim)
		}
	case typ == "List":
		l, ok := v.([]any)
		if !ok {
			c.addf("%s: not a list", where)
			return
		}
		for i, item := range l {
			c.value(fmt.Sprintf("%s[%d]", where, i), resType, itemType, "", primItem, "", item)
		}
	case typ == "Map":
		m, ok := v.(map[string]any)
		if !ok {
			c.addf("%s: not a map", where)
			return
		}
		for _, k := range sortedKeys(m) {
			c.value(where+"."+k, resType, itemType, "", primItem, "", m[k])
		}
	default:
		pt, ok := c.spec.PropertyTypes[resType+"."+typ]
		if !ok {
			c.addf("%s: unknown property type %s.%s", where, resType, typ)
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			c.addf("%s: not an object of type %s", where, typ)
			return
		}
		c.object(where, resType, pt.Properties, m)
	}
}

func primitiveOK(prim string, v any) bool {
	switch prim {
	case "String":
		_, ok := v.(string)
		return ok
	case "Integer", "Long":
		_, ok := v.(int)
		return ok
	case "Double":
		switch v.(type) {
		case int, float64:
			return true
		}
		return false
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "Json":
		switch v.(type) {
		case map[string]any, []any:
			return true
		}
		return false
	}
	return true // Timestamp and the like: not used here
}

// intrinsic says whether v is {"Ref": ...} or {"Fn::...": ...}.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// refs checks every Ref, Fn::GetAtt and Fn::Sub reference inside v.
func (c *specCheck) refs(where string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if fn, a, ok := intrinsic(x); ok {
			switch fn {
			case "Ref":
				c.ref(where, fmt.Sprint(a))
			case "Fn::GetAtt":
				l, _ := a.([]any)
				if len(l) != 2 {
					c.addf("%s: Fn::GetAtt %v", where, a)
					return
				}
				c.getAtt(where, fmt.Sprint(l[0]), fmt.Sprint(l[1]))
			case "Fn::Sub":
				s, _ := a.(string)
				for _, part := range strings.Split(s, "${")[1:] {
					name, _, _ := strings.Cut(part, "}")
					if res, attr, ok := strings.Cut(name, "."); ok {
						c.getAtt(where, res, attr)
					} else {
						c.ref(where, name)
					}
				}
			}
		}
		for _, k := range sortedKeys(x) {
			c.refs(where, x[k])
		}
	case []any:
		for _, e := range x {
			c.refs(where, e)
		}
	}
}

func (c *specCheck) ref(where, name string) {
	if strings.HasPrefix(name, "AWS::") {
		return // pseudo parameters
	}
	res, _ := c.tpl["Resources"].(map[string]any)
	params, _ := c.tpl["Parameters"].(map[string]any)
	if _, ok := res[name]; !ok {
		if _, ok := params[name]; !ok {
			c.addf("%s: Ref to %q, which the template does not define", where, name)
		}
	}
}

func (c *specCheck) getAtt(where, id, attr string) {
	res, _ := c.tpl["Resources"].(map[string]any)
	r, ok := res[id].(map[string]any)
	if !ok {
		c.addf("%s: Fn::GetAtt of %q, which the template does not define", where, id)
		return
	}
	typ, _ := r["Type"].(string)
	if _, ok := c.spec.ResourceTypes[typ].Attributes[attr]; !ok {
		c.addf("%s: %s (%s) has no attribute %q", where, id, typ, attr)
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
