package cdn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// ParseHeadersPolicy reads headers-policy.json, whose fields are those of
// the API's ResponseHeadersPolicyConfig.
func ParseHeadersPolicy(doc []byte) (*types.ResponseHeadersPolicyConfig, error) {
	var cfg types.ResponseHeadersPolicyConfig
	if err := json.Unmarshal(doc, &cfg); err != nil {
		return nil, fmt.Errorf("headers policy: %w", err)
	}
	if aws.ToString(cfg.Name) == "" {
		return nil, fmt.Errorf("headers policy: no Name")
	}
	return &cfg, nil
}

// ensureHeadersPolicy creates the policy named in o.HeadersPolicy or brings
// it up to date, and returns its id.
func ensureHeadersPolicy(ctx context.Context, api HeadersPolicyAPI, o Options, r *Result, out io.Writer) (string, error) {
	want := o.HeadersPolicy
	name := aws.ToString(want.Name)
	id, err := findHeadersPolicy(ctx, api, name)
	if err != nil {
		return "", err
	}
	if id == "" {
		r.HeadersPolicyChanged = true
		if o.DryRun {
			fmt.Fprintf(out, "headers policy %s: would be created\n", name)
			return "", nil
		}
		res, err := api.CreateResponseHeadersPolicy(ctx, &cloudfront.CreateResponseHeadersPolicyInput{ResponseHeadersPolicyConfig: want})
		if err != nil {
			return "", fmt.Errorf("create headers policy %s: %w", name, err)
		}
		fmt.Fprintf(out, "headers policy %s: created\n", name)
		return aws.ToString(res.ResponseHeadersPolicy.Id), nil
	}
	got, err := api.GetResponseHeadersPolicyConfig(ctx, &cloudfront.GetResponseHeadersPolicyConfigInput{Id: &id})
	if err != nil {
		return "", fmt.Errorf("get headers policy %s: %w", name, err)
	}
	if sameJSON(got.ResponseHeadersPolicyConfig, want) {
		fmt.Fprintf(out, "headers policy %s: current\n", name)
		return id, nil
	}
	r.HeadersPolicyChanged = true
	if o.DryRun {
		fmt.Fprintf(out, "headers policy %s: would be updated\n", name)
		return id, nil
	}
	_, err = api.UpdateResponseHeadersPolicy(ctx, &cloudfront.UpdateResponseHeadersPolicyInput{Id: &id, IfMatch: got.ETag, ResponseHeadersPolicyConfig: want})
	if err != nil {
		return "", fmt.Errorf("update headers policy %s: %w", name, err)
	}
	fmt.Fprintf(out, "headers policy %s: updated\n", name)
	return id, nil
}

func findHeadersPolicy(ctx context.Context, api HeadersPolicyAPI, name string) (string, error) {
	var marker *string
	for {
		page, err := api.ListResponseHeadersPolicies(ctx, &cloudfront.ListResponseHeadersPoliciesInput{Type: types.ResponseHeadersPolicyTypeCustom, Marker: marker})
		if err != nil {
			return "", fmt.Errorf("list headers policies: %w", err)
		}
		list := page.ResponseHeadersPolicyList
		if list == nil {
			return "", nil
		}
		for _, s := range list.Items {
			if p := s.ResponseHeadersPolicy; p != nil && p.ResponseHeadersPolicyConfig != nil && aws.ToString(p.ResponseHeadersPolicyConfig.Name) == name {
				return aws.ToString(p.Id), nil
			}
		}
		if aws.ToString(list.NextMarker) == "" {
			return "", nil
		}
		marker = list.NextMarker
	}
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
