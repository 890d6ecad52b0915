package cdn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	kvstypes "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore/types"
)

// maxKeysPerUpdate is UpdateKeys' limit on puts plus deletes per call.
const maxKeysPerUpdate = 50

// KeyPlan is the change to a KeyValueStore: keys to put (new or changed)
// and managed keys to delete (a user removed from the users file must lose
// access, not keep a forgotten key).
type KeyPlan struct {
	Put    map[string]string
	Delete []string
}

// PlanKeys compares the wanted entries with the store's.
func PlanKeys(want, have map[string]string, managed func(string) bool) KeyPlan {
	p := KeyPlan{Put: map[string]string{}}
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			p.Put[k] = v
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok && managed != nil && managed(k) {
			p.Delete = append(p.Delete, k)
		}
	}
	sort.Strings(p.Delete)
	return p
}

func syncKeys(ctx context.Context, api KeyValueStoreAPI, o Options, r *Result, out io.Writer) error {
	if api == nil {
		return errors.New("deploy: the function uses a KeyValueStore but no KeyValueStore client was given")
	}
	have, err := listKeys(ctx, api, o.KVSARN)
	if err != nil {
		return err
	}
	plan := PlanKeys(o.KVS, have, o.ManagedKey)
	if len(plan.Put) == 0 && len(plan.Delete) == 0 {
		fmt.Fprintf(out, "key value store: %d entries current\n", len(o.KVS))
		return nil
	}
	if o.DryRun {
		r.KeysPut, r.KeysDeleted = len(plan.Put), len(plan.Delete)
		fmt.Fprintf(out, "key value store: would put %d, delete %d\n", len(plan.Put), len(plan.Delete))
		return nil
	}
	var puts []kvstypes.PutKeyRequestListItem
	for _, k := range slices.Sorted(maps.Keys(plan.Put)) {
		puts = append(puts, kvstypes.PutKeyRequestListItem{Key: aws.String(k), Value: aws.String(plan.Put[k])})
	}
	var dels []kvstypes.DeleteKeyRequestListItem
	for _, k := range plan.Delete {
		dels = append(dels, kvstypes.DeleteKeyRequestListItem{Key: aws.String(k)})
	}
	if err := updateKeys(ctx, api, o.KVSARN, puts, dels); err != nil {
		return err
	}
	r.KeysPut, r.KeysDeleted = len(puts), len(dels)
	// Never print values: they are password hashes and the cookie secret.
	fmt.Fprintf(out, "key value store: %d put, %d deleted\n", len(puts), len(dels))
	return nil
}

func listKeys(ctx context.Context, api KeyValueStoreAPI, arn string) (map[string]string, error) {
	have := map[string]string{}
	var token *string
	for {
		page, err := api.ListKeys(ctx, &kvs.ListKeysInput{KvsARN: &arn, NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("list keys of %s: %w", arn, err)
		}
		for _, it := range page.Items {
			have[aws.ToString(it.Key)] = aws.ToString(it.Value)
		}
		if page.NextToken == nil || *page.NextToken == "" {
			return have, nil
		}
		token = page.NextToken
	}
}

// updateKeys applies puts and deletes in batches, each with the store's
// current ETag.
func updateKeys(ctx context.Context, api KeyValueStoreAPI, arn string, puts []kvstypes.PutKeyRequestListItem, dels []kvstypes.DeleteKeyRequestListItem) error {
	desc, err := api.DescribeKeyValueStore(ctx, &kvs.DescribeKeyValueStoreInput{KvsARN: &arn})
	if err != nil {
		return fmt.Errorf("describe key value store %s: %w", arn, err)
	}
	etag := aws.ToString(desc.ETag)
	for len(puts) > 0 || len(dels) > 0 {
		in := &kvs.UpdateKeysInput{KvsARN: &arn, IfMatch: aws.String(etag)}
		n := min(len(puts), maxKeysPerUpdate)
		in.Puts, puts = puts[:n], puts[n:]
		m := min(len(dels), maxKeysPerUpdate-n)
		in.Deletes, dels = dels[:m], dels[m:]
		res, err := api.UpdateKeys(ctx, in)
		if err != nil {
			return fmt.Errorf("update keys of %s: %w", arn, err)
		}
		etag = aws.ToString(res.ETag)
	}
	return nil
}
