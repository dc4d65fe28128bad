package api

// ApiVersions v0-v4. v3+ (KIP-511) carries the client's software name and
// version, which we accept and ignore. The response header is always v0.
// v3+ lists the features (KIP-584): transaction.version, supported 0-2 and
// finalized at 2 as a new Kafka 4 cluster has it, so clients use
// transactions v2 (KIP-890 part 2: Produce v12+ and TxnOffsetCommit v5 add
// partitions to the transaction, EndTxn v5 bumps the epoch). No feature is
// ever changed, so the finalized features' epoch is 0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func apiVersions(h *Handlers, _ context.Context, req *kmsg.ApiVersionsRequest) (*kmsg.ApiVersionsResponse, error) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = h.apiKeys()
	if req.Version >= 3 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = transactionVersion, 0, 2
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = transactionVersion, 2, 2
		resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{sf}
		resp.FinalizedFeatures = []kmsg.ApiVersionsResponseFinalizedFeature{ff}
		resp.FinalizedFeaturesEpoch = 0
	}
	return resp, nil
}

// transactionVersion is the feature of the transaction protocol's version.
const transactionVersion = "transaction.version"

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
