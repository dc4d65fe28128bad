package api

// AlterConfigs v0-v2 replaces a resource's whole set of dynamic configs:
// names left out go back to their defaults. Topic configs apply to the live
// partitions at once. Broker configs are stored cluster-wide (this broker's
// ID and "" both name them until there is more than one broker).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
)

func alterConfigs(h *Handlers, ctx context.Context, req *kmsg.AlterConfigsRequest) (*kmsg.AlterConfigsResponse, error) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	changed := false
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		set := make(map[string]string)
		for _, c := range rr.Configs {
			if c.Value != nil {
				set[c.Name] = *c.Value
			}
		}
		current, err := h.currentDynamic(rr.ResourceType, rr.ResourceName)
		var del []string
		if err == nil {
			for name := range current {
				if _, keep := set[name]; !keep {
					del = append(del, name)
				}
			}
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

// currentDynamic returns the dynamic configs of a resource.
func (h *Handlers) currentDynamic(resourceType kmsg.ConfigResourceType, name string) (map[string]string, error) {
	img := h.image()
	switch resourceType {
	case resourceTopic:
		t := img.Topics[name]
		if t == nil {
			return nil, kerr.UnknownTopicOrPartition
		}
		return t.Configs, nil
	case resourceBroker:
		if code := h.checkBrokerResource(name); code != 0 {
			return nil, kerr.ErrorForCode(code)
		}
		return img.BrokerConfigs, nil
	}
	return nil, kerr.InvalidRequest
}

// applyConfigs validates every change, then proposes them together.
func (h *Handlers) applyConfigs(ctx context.Context, resourceType kmsg.ConfigResourceType, name string, set map[string]string, del []string, validateOnly bool) error {
	validate, known := config.ValidateTopic, config.KnownTopic
	if resourceType == resourceBroker {
		validate, known = config.ValidateBrokerDynamic, config.KnownBroker
	}
	for k, v := range set {
		if err := validate(k, v); err != nil {
			return wrapInvalidConfig(err)
		}
	}
	for _, k := range del {
		if !known(k) {
			return wrapInvalidConfig(fmt.Errorf("unknown config '%s'", k))
		}
	}
	if resourceType == resourceBroker {
		if err := h.Config.ValidateDynamicChange(h.image().BrokerConfigs, set, del); err != nil {
			return wrapInvalidConfig(err)
		}
	}
	if validateOnly {
		return nil
	}
	if resourceType == resourceTopic {
		return h.Controller.AlterTopicConfigs(ctx, name, set, del)
	}
	return h.Controller.AlterBrokerConfigs(ctx, set, del)
}

func wrapInvalidConfig(err error) error {
	return &invalidConfigError{err}
}

type invalidConfigError struct{ err error }

func (e *invalidConfigError) Error() string { return e.err.Error() }
func (e *invalidConfigError) Unwrap() error { return kerr.InvalidConfig }
