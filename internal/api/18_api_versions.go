package api

// ApiVersions v0-v4. v3+ (KIP-511) carries the client's software name and
// version, which we accept and ignore. The response header is always v0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func apiVersions(h *Handlers, _ context.Context, req *kmsg.ApiVersionsRequest) (*kmsg.ApiVersionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = h.apiKeys()
	return resp, nil
}

func (h *Handlers) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for _, e := range h.table {
		if e != nil {
			keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: e.key, MinVersion: e.min, MaxVersion: e.max})
		}
	}
	return keys
}

func (h *Handlers) unsupportedAPIVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = h.apiKeys()
	return resp
}
