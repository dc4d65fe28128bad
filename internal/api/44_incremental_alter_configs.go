package api

// IncrementalAlterConfigs v0-v1: set (0), delete (1), append (2) and
// subtract (3) individual configs, leaving the others alone. Append and
// subtract apply to list configs such as cleanup.policy.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func incrementalAlterConfigs(h *Handlers, ctx context.Context, req *kmsg.IncrementalAlterConfigsRequest) (*kmsg.IncrementalAlterConfigsResponse, error) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	changed := false
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		current, err := h.currentDynamic(rr.ResourceType, rr.ResourceName)
		set := make(map[string]string)
		var del []string
		for _, c := range rr.Configs {
			if err != nil {
				break
			}
			value := ""
			if c.Value != nil {
				value = *c.Value
			}
			switch c.Op {
			case 0:
				set[c.Name] = value
			case 1:
				del = append(del, c.Name)
			case 2, 3:
				base, ok := set[c.Name]
				if !ok {
					base = current[c.Name]
					if base == "" {
						base = h.effective(rr.ResourceType, rr.ResourceName, c.Name)
					}
				}
				set[c.Name] = alterList(base, value, c.Op == 2)
			default:
				err = fmt.Errorf("%w: unknown operation %d for config %s", kerr.InvalidRequest, c.Op, c.Name)
			}
		}
		if err == nil {
			err = h.applyConfigs(ctx, rr.ResourceType, rr.ResourceName, set, del, req.ValidateOnly)
		}
		if err == nil && !req.ValidateOnly {
			changed = true
		}
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	if changed {
		h.Partitions.Sync()
	}
	return resp, nil
}

// effective is a config's value in force, for append and subtract.
func (h *Handlers) effective(resourceType kmsg.ConfigResourceType, name, config string) string {
	img := h.image()
	if resourceType == resourceTopic {
		if t := img.Topics[name]; t != nil {
			for _, e := range h.Config.DescribeTopic(t.Configs, img.BrokerConfigs, []string{config}, false, false) {
				return e.Value
			}
		}
		return ""
	}
	return h.Config.Get(config, img.BrokerConfigs)
}

// alterList appends items to, or removes them from, a comma-separated list.
func alterList(list, items string, add bool) string {
	var out []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	for _, v := range strings.Split(items, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		i := slices.Index(out, v)
		switch {
		case add && i < 0:
			out = append(out, v)
		case !add && i >= 0:
			out = slices.Delete(out, i, i+1)
		}
	}
	return strings.Join(out, ",")
}
