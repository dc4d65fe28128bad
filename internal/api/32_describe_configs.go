package api

// DescribeConfigs v0-v4 for topics (resource type 2) and brokers (4): every
// config with its value, source and, when asked (v1+), its synonyms in
// Kafka's order; documentation and types from v3. A broker resource is named
// by this broker's ID, or "" for the cluster-wide defaults. v0 has no
// config source: is_default says whether the value is the default.

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
)

const (
	resourceTopic  = 2
	resourceBroker = 4
)

func describeConfigs(h *Handlers, _ context.Context, req *kmsg.DescribeConfigsRequest) (*kmsg.DescribeConfigsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	img := h.image()
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		switch rr.ResourceType {
		case resourceTopic:
			t := img.Topics[rr.ResourceName]
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			entries = h.Config.DescribeTopic(t.Configs, img.BrokerConfigs, rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		case resourceBroker:
			if code := h.checkBrokerResource(rr.ResourceName); code != 0 {
				sr.ErrorCode = code
				break
			}
			entries = h.Config.Describe(img.BrokerConfigs, rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			msg := "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))
			sr.ErrorMessage = &msg
		}
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = e.Name
			if !e.Null && !e.Sensitive {
				v := e.Value
				c.Value = &v
			}
			c.ReadOnly, c.Source, c.IsSensitive = e.ReadOnly, kmsg.ConfigSource(e.Source), e.Sensitive
			c.IsDefault = e.Source == config.SourceDefault
			c.ConfigType = kmsg.ConfigType(e.Type)
			if req.IncludeDocumentation {
				doc := e.Doc
				c.Documentation = &doc
			}
			for _, s := range e.Synonyms {
				cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				cs.Name, cs.Source = s.Name, kmsg.ConfigSource(s.Source)
				if !s.Null {
					v := s.Value
					cs.Value = &v
				}
				c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// checkBrokerResource accepts "" (cluster-wide) and this broker's ID.
func (h *Handlers) checkBrokerResource(name string) int16 {
	if name == "" {
		return 0
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return kerr.InvalidRequest.Code
	}
	if int32(id) != h.NodeID {
		return kerr.InvalidRequest.Code
	}
	return 0
}
