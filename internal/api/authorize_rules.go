package api

// The authorization rules: for each API, the operations Kafka's KafkaApis
// (and ControllerApis, for the admin APIs it serves in KRaft) checks, with
// its error codes. See authorize.go for how a rule acts.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/acl"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

var (
	clusterDenied = kerr.ClusterAuthorizationFailed.Code
	topicDenied   = kerr.TopicAuthorizationFailed.Code
	groupDenied   = kerr.GroupAuthorizationFailed.Code
	txnDenied     = kerr.TransactionalIDAuthorizationFailed.Code
)

// authorizers holds the rule of every API key served; ApiVersions and the
// SASL requests need none (authorize lets them through).
var authorizers = map[int16]check{
	0:  produceRule,
	1:  fetchRule,
	2:  topicsRule(acl.OperationDescribe),
	3:  metadataRule,
	8:  groupAndTopicsRule("Group", acl.OperationRead, acl.OperationRead),
	9:  offsetFetchRule,
	10: findCoordinatorRule,
	11: groupRule(acl.OperationRead),
	12: groupRule(acl.OperationRead),
	13: groupRule(acl.OperationRead),
	14: groupRule(acl.OperationRead),
	15: groupsRule(acl.OperationDescribe),
	16: listGroupsRule,
	19: createTopicsRule,
	20: deleteTopicsRule,
	21: topicsRule(acl.OperationDelete),
	22: initProducerIDRule,
	23: followerOrTopicsRule(acl.OperationDescribe),
	24: addPartitionsToTxnRule,
	25: txnRule(func(r kmsg.Request) (string, string) {
		req := r.(*kmsg.AddOffsetsToTxnRequest)
		return req.TransactionalID, req.Group
	}),
	26: txnRule(func(r kmsg.Request) (string, string) { return r.(*kmsg.EndTxnRequest).TransactionalID, "" }),
	27: writeTxnMarkersRule,
	28: txnOffsetCommitRule,
	29: clusterRule(acl.OperationDescribe),
	30: createACLsRule,
	31: deleteACLsRule,
	32: configsRule(acl.OperationDescribeConfigs),
	33: configsRule(acl.OperationAlterConfigs),
	35: clusterRule(acl.OperationDescribe),
	37: topicsRule(acl.OperationAlter),
	42: groupsRule(acl.OperationDelete),
	43: clusterRule(acl.OperationAlter),
	44: configsRule(acl.OperationAlterConfigs),
	45: clusterRule(acl.OperationAlter),
	46: clusterRule(acl.OperationDescribe),
	47: groupAndTopicsRule("Group", acl.OperationDelete, acl.OperationRead),
	50: clusterRule(acl.OperationDescribe),
	51: alterUserScramRule,
	55: clusterRule(acl.OperationDescribe),
	// DescribeCluster: Kafka checks nothing (the brokers are in every
	// Metadata answer too) but the authorized operations it reports.
	60: func(*authz, kmsg.Request) (kmsg.Response, func(kmsg.Response)) { return nil, nil },
	61: topicsRule(acl.OperationRead),
	65: describeTransactionsRule,
	66: listTransactionsRule,
	68: groupRule(acl.OperationRead),
	69: groupsRule(acl.OperationDescribe),
	75: describeTopicPartitionsRule,
	80: clusterRule(acl.OperationAlter),
	81: clusterRule(acl.OperationAlter),
}

// topicName resolves a topic ID of the image ("" if unknown).
func (a *authz) topicName(id [16]byte) string {
	if t := a.h.image().TopicsByID[metadata.TopicID(id)]; t != nil {
		return t.Name
	}
	return ""
}

// topicCheck refuses topics the principal may not op.
func (a *authz) topicCheck(op acl.Operation) func(string) int16 {
	return func(name string) int16 {
		if a.topic(op, name) {
			return 0
		}
		return topicDenied
	}
}

// clusterRule refuses the whole request without op on the cluster.
func clusterRule(op acl.Operation) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		if a.cluster(op) {
			return nil, nil
		}
		return denyWith(req, clusterDenied), nil
	}
}

// topicsRule takes the topics the principal may not op out of the
// request's Topics and answers them TOPIC_AUTHORIZATION_FAILED.
func topicsRule(op acl.Operation) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		ds := splitList(req, "Topics", "Topic", "TopicID", "Partitions", a.topicName, a.topicCheck(op))
		if len(ds) == 0 {
			return nil, nil
		}
		return nil, func(resp kmsg.Response) { addErrors(resp, "Topics", "Topic", "TopicID", "Partitions", ds) }
	}
}

// followerOrTopicsRule: a follower's request (ReplicaID >= 0) needs
// CLUSTER_ACTION, a client's op on each topic.
func followerOrTopicsRule(op acl.Operation) check {
	topics := topicsRule(op)
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		if id := field(valueOf(req), "ReplicaID"); id.IsValid() && id.Int() >= 0 {
			if a.cluster(acl.OperationClusterAction) {
				return nil, nil
			}
			return denyWith(req, topicDenied), nil
		}
		return topics(a, req)
	}
}

func produceRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.ProduceRequest)
	if req.TransactionID != nil && !a.txnID(acl.OperationWrite, *req.TransactionID) {
		return denyWith(req, txnDenied), nil
	}
	rule := topicsRule(acl.OperationWrite)
	deny, after := rule(a, req)
	if after != nil && req.Acks == 0 {
		after = nil // nothing is answered
	}
	return deny, after
}

// fetchRule: a follower needs CLUSTER_ACTION; a consumer READ on each
// topic. A consumer's denied topics are answered in place after the fetch,
// so that fetch sessions (whose partitions a request need not repeat) are
// covered too.
func fetchRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.FetchRequest)
	follower := req.ReplicaID >= 0 || req.ReplicaState.ID >= 0
	if follower {
		if a.cluster(acl.OperationClusterAction) {
			return nil, nil
		}
		return denyWith(req, topicDenied), nil
	}
	return nil, func(resp kmsg.Response) {
		fr, ok := resp.(*kmsg.FetchResponse)
		if !ok {
			return
		}
		for i := range fr.Topics {
			t := &fr.Topics[i]
			name := t.Topic
			if t.TopicID != ([16]byte{}) {
				name = a.topicName(t.TopicID)
			}
			if a.topic(acl.OperationRead, name) {
				continue
			}
			for j := range t.Partitions {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition, p.ErrorCode = t.Partitions[j].Partition, topicDenied
				t.Partitions[j] = p
			}
		}
	}
}

// metadataRule: only topics the principal may DESCRIBE are shown (named
// ones it may not answer TOPIC_AUTHORIZATION_FAILED); auto-creation needs
// CREATE on the cluster or on every named topic.
func metadataRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.MetadataRequest)
	named := req.Topics != nil
	if req.AllowAutoTopicCreation && !a.cluster(acl.OperationCreate) {
		for _, t := range req.Topics {
			if t.Topic == nil || !a.topic(acl.OperationCreate, *t.Topic) || !a.topic(acl.OperationDescribe, *t.Topic) {
				req.AllowAutoTopicCreation = false
			}
		}
	}
	if !named && req.Version >= 4 {
		req.AllowAutoTopicCreation = false
	}
	return nil, func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		kept := mr.Topics[:0]
		for _, t := range mr.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			} else if t.TopicID != ([16]byte{}) {
				name = a.topicName(t.TopicID)
			}
			if a.topic(acl.OperationDescribe, name) {
				kept = append(kept, t)
				continue
			}
			if named {
				e := kmsg.NewMetadataResponseTopic()
				e.Topic, e.TopicID, e.ErrorCode = t.Topic, t.TopicID, topicDenied
				if t.Topic == nil {
					e.TopicID = [16]byte{} // an unauthorized ID is not confirmed
				}
				kept = append(kept, e)
			}
		}
		mr.Topics = kept
	}
}

func describeTopicPartitionsRule(a *authz, _ kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeTopicPartitionsResponse)
		for i := range dr.Topics {
			t := &dr.Topics[i]
			if t.Topic != nil && !a.topic(acl.OperationDescribe, *t.Topic) {
				e := kmsg.NewDescribeTopicPartitionsResponseTopic()
				e.Topic, e.ErrorCode = t.Topic, topicDenied
				*t = e
			}
		}
	}
}

// groupRule refuses a request on the group in its Group field without op.
func groupRule(op acl.Operation) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		if a.group(op, stringOf(field(valueOf(req), "Group"))) {
			return nil, nil
		}
		return denyWith(req, groupDenied), nil
	}
}

// groupsRule takes the groups the principal may not op out of the
// request's Groups and answers them GROUP_AUTHORIZATION_FAILED.
func groupsRule(op acl.Operation) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		ds := splitList(req, "Groups", "Group", "", "", nil, func(g string) int16 {
			if a.group(op, g) {
				return 0
			}
			return groupDenied
		})
		if len(ds) == 0 {
			return nil, nil
		}
		return nil, func(resp kmsg.Response) { addErrors(resp, "Groups", "Group", "", "", ds) }
	}
}

// groupAndTopicsRule: groupOp on the group (else everything answers
// GROUP_AUTHORIZATION_FAILED), topicOp on each topic.
func groupAndTopicsRule(groupField string, groupOp, topicOp acl.Operation) check {
	topics := topicsRule(topicOp)
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		if !a.group(groupOp, stringOf(field(valueOf(req), groupField))) {
			return denyWith(req, groupDenied), nil
		}
		return topics(a, req)
	}
}

func offsetFetchRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.OffsetFetchRequest)
	if req.Version < 8 {
		if !a.group(acl.OperationDescribe, req.Group) {
			return denyWith(req, groupDenied), nil
		}
	} else {
		for _, g := range req.Groups {
			if !a.group(acl.OperationDescribe, g.Group) {
				return denyWith(req, groupDenied), nil
			}
		}
	}
	// Topics the principal may not describe are left out (all topics) or
	// answered TOPIC_AUTHORIZATION_FAILED (named), after the fetch.
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetFetchResponse)
		for i := range or.Topics {
			if !a.topic(acl.OperationDescribe, or.Topics[i].Topic) {
				for j := range or.Topics[i].Partitions {
					or.Topics[i].Partitions[j].Offset, or.Topics[i].Partitions[j].ErrorCode = -1, topicDenied
				}
			}
		}
		for g := range or.Groups {
			for i := range or.Groups[g].Topics {
				t := &or.Groups[g].Topics[i]
				name := t.Topic
				if t.TopicID != ([16]byte{}) {
					name = a.topicName(t.TopicID)
				}
				if !a.topic(acl.OperationDescribe, name) {
					for j := range t.Partitions {
						t.Partitions[j].Offset, t.Partitions[j].ErrorCode = -1, topicDenied
					}
				}
			}
		}
	}
}

func findCoordinatorRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.FindCoordinatorRequest)
	allowed := func(key string) int16 {
		switch req.CoordinatorType {
		case 1:
			if !a.txnID(acl.OperationDescribe, key) {
				return txnDenied
			}
		default:
			if !a.group(acl.OperationDescribe, key) {
				return groupDenied
			}
		}
		return 0
	}
	if req.Version < 4 {
		if code := allowed(req.CoordinatorKey); code != 0 {
			return denyWith(req, code), nil
		}
		return nil, nil
	}
	var ds []denied
	kept := req.CoordinatorKeys[:0]
	for _, k := range req.CoordinatorKeys {
		if code := allowed(k); code != 0 {
			ds = append(ds, denied{name: k, code: code})
		} else {
			kept = append(kept, k)
		}
	}
	req.CoordinatorKeys = kept
	if len(ds) == 0 {
		return nil, nil
	}
	if len(kept) == 0 {
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		addErrors(resp, "Coordinators", "Key", "", "", ds)
		return resp, nil
	}
	return nil, func(resp kmsg.Response) { addErrors(resp, "Coordinators", "Key", "", "", ds) }
}

func listGroupsRule(a *authz, _ kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationDescribe) {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListGroupsResponse)
		kept := lr.Groups[:0]
		for _, g := range lr.Groups {
			if a.group(acl.OperationDescribe, g.Group) {
				kept = append(kept, g)
			}
		}
		lr.Groups = kept
	}
}

func createTopicsRule(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationCreate) {
		return nil, nil
	}
	ds := splitList(req, "Topics", "Topic", "", "", nil, a.topicCheck(acl.OperationCreate))
	if len(ds) == 0 {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) { addErrors(resp, "Topics", "Topic", "", "", ds) }
}

func deleteTopicsRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.DeleteTopicsRequest)
	var ds []denied
	if req.Version < 6 {
		kept := req.TopicNames[:0]
		for _, n := range req.TopicNames {
			if a.topic(acl.OperationDelete, n) {
				kept = append(kept, n)
			} else {
				ds = append(ds, denied{name: n, code: topicDenied})
			}
		}
		req.TopicNames = kept
	} else {
		ds = splitList(req, "Topics", "Topic", "TopicID", "", a.topicName, a.topicCheck(acl.OperationDelete))
	}
	if len(ds) == 0 {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) { addErrors(resp, "Topics", "Topic", "TopicID", "", ds) }
}

func initProducerIDRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.InitProducerIDRequest)
	if req.TransactionalID != nil {
		if !a.txnID(acl.OperationWrite, *req.TransactionalID) {
			return denyWith(req, txnDenied), nil
		}
		return nil, nil
	}
	// An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE
	// on some topic (Kafka 3.0+, KIP-679).
	if a.cluster(acl.OperationIdempotentWrite) ||
		a.az.AuthorizeByResourceType(a.principal, a.host, acl.OperationWrite, acl.ResourceTopic).Allowed {
		return nil, nil
	}
	return denyWith(req, clusterDenied), nil
}

func addPartitionsToTxnRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.AddPartitionsToTxnRequest)
	if req.Version >= 4 {
		// Brokers verifying a transaction (KIP-890).
		if a.cluster(acl.OperationClusterAction) {
			return nil, nil
		}
		return denyWith(req, clusterDenied), nil
	}
	if !a.txnID(acl.OperationWrite, req.TransactionalID) {
		return denyWith(req, txnDenied), nil
	}
	for _, t := range req.Topics {
		if !a.topic(acl.OperationWrite, t.Topic) {
			// Kafka: the denied topics answer the error, the others
			// OPERATION_NOT_ATTEMPTED.
			resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
			for _, t := range req.Topics {
				code := kerr.OperationNotAttempted.Code
				if !a.topic(acl.OperationWrite, t.Topic) {
					code = topicDenied
				}
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil
		}
	}
	return nil, nil
}

// txnRule: WRITE on the transactional ID, and READ on the group if any.
func txnRule(ids func(kmsg.Request) (txnID, group string)) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		id, group := ids(req)
		if !a.txnID(acl.OperationWrite, id) {
			return denyWith(req, txnDenied), nil
		}
		if group != "" && !a.group(acl.OperationRead, group) {
			return denyWith(req, groupDenied), nil
		}
		return nil, nil
	}
}

func txnOffsetCommitRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.TxnOffsetCommitRequest)
	if deny, _ := txnRule(func(kmsg.Request) (string, string) { return req.TransactionalID, req.Group })(a, req); deny != nil {
		return deny, nil
	}
	return topicsRule(acl.OperationRead)(a, req)
}

// configsRule: op on each topic resource, on the cluster for broker and
// broker-logger resources.
func configsRule(op acl.Operation) check {
	return func(a *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
		var ds []denied
		check := func(t int8, name string) int16 {
			if t == int8(kmsg.ConfigResourceTypeTopic) {
				if a.topic(op, name) {
					return 0
				}
				return topicDenied
			}
			if a.cluster(op) {
				return 0
			}
			return clusterDenied
		}
		s := field(valueOf(req), "Resources")
		kept := newSliceLike(s)
		for i := range s.Len() {
			e := s.Index(i)
			t, name := int8(field(e, "ResourceType").Int()), field(e, "ResourceName").String()
			if code := check(t, name); code != 0 {
				ds = append(ds, denied{name: name, code: code, partitions: []int32{int32(t)}})
			} else {
				kept = appendValue(kept, e)
			}
		}
		s.Set(kept)
		if len(ds) == 0 {
			return nil, nil
		}
		return nil, func(resp kmsg.Response) {
			rs := field(valueOf(resp), "Resources")
			for _, d := range ds {
				e := newDefault(rs.Type().Elem())
				field(e, "ResourceName").SetString(d.name)
				field(e, "ResourceType").SetInt(int64(d.partitions[0]))
				field(e, "ErrorCode").SetInt(int64(d.code))
				rs.Set(appendValue(rs, e))
			}
		}
	}
}

func describeTransactionsRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	req := r.(*kmsg.DescribeTransactionsRequest)
	var ds []denied
	kept := req.TransactionalIDs[:0]
	for _, id := range req.TransactionalIDs {
		if a.txnID(acl.OperationDescribe, id) {
			kept = append(kept, id)
		} else {
			ds = append(ds, denied{name: id, code: txnDenied})
		}
	}
	req.TransactionalIDs = kept
	if len(ds) == 0 {
		return nil, nil
	}
	return nil, func(resp kmsg.Response) {
		addErrors(resp, "TransactionStates", "TransactionalID", "", "", ds)
	}
}

func listTransactionsRule(a *authz, _ kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListTransactionsResponse)
		kept := lr.TransactionStates[:0]
		for _, s := range lr.TransactionStates {
			if a.txnID(acl.OperationDescribe, s.TransactionalID) {
				kept = append(kept, s)
			}
		}
		lr.TransactionStates = kept
	}
}

func writeTxnMarkersRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationClusterAction) {
		return nil, nil
	}
	req := r.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, clusterDenied
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp, nil
}

func createACLsRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationAlter) {
		return nil, nil
	}
	req := r.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode = clusterDenied
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func deleteACLsRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationAlter) {
		return nil, nil
	}
	req := r.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode = clusterDenied
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func alterUserScramRule(a *authz, r kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	if a.cluster(acl.OperationAlter) {
		return nil, nil
	}
	req := r.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	seen := map[string]bool{}
	add := func(user string) {
		if !seen[user] {
			seen[user] = true
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = user, clusterDenied
			resp.Results = append(resp.Results, res)
		}
	}
	for _, d := range req.Deletions {
		add(d.Name)
	}
	for _, u := range req.Upsertions {
		add(u.Name)
	}
	return resp, nil
}
