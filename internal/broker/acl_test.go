package broker_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// aclJAAS has a super user (admin) and two users without ACLs of their own.
const aclJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";`

// startACLs starts a broker with the authorizer on, User:admin a super
// user, and a SASL_PLAINTEXT listener with PLAIN.
func startACLs(t *testing.T) (*broker.Broker, func(user string, opts ...kgo.Opt) *kgo.Client) {
	t.Helper()
	b := startSASL(t, map[string]string{
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": aclJAAS,
		"authorizer.class.name":                               "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                                         "User:admin",
	})
	as := func(user string, opts ...kgo.Opt) *kgo.Client {
		return saslClient(t, b.ListenerAddr("SASL_PLAINTEXT"), append([]kgo.Opt{
			kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()), kgo.RequestRetries(1),
		}, opts...)...)
	}
	return b, as
}

// TestACLs: a super user grants alice WRITE on a prefix and READ on one
// topic and group; alice does exactly that and gets Kafka's codes for the
// rest; bob, with no ACLs, is refused; ACLs are listed and deleted with
// filters, and a deleted ACL stops applying.
func TestACLs(t *testing.T) {
	_, as := startACLs(t)
	ctx := ctxT(t)
	admin := kadm.NewClient(as("admin"))
	for _, topic := range []string{"orders-eu", "orders-us", "secret"} {
		createTopic(t, admin, topic, 1, nil)
	}
	acls := kadm.NewACLs().Allow("User:alice").Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)
	if _, err := admin.CreateACLs(ctx, acls); err != nil {
		t.Fatal(err)
	}
	read := kadm.NewACLs().Allow("User:alice").Topics("orders-eu").Groups("billing").Operations(kadm.OpRead)
	results, err := admin.CreateACLs(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("create %+v: %v", r, r.Err)
		}
	}

	alice := as("alice")
	produce := func(cl *kgo.Client, topic string) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
	}
	for _, topic := range []string{"orders-eu", "orders-us"} {
		if err := produce(alice, topic); err != nil {
			t.Fatalf("alice writes %s: %v", topic, err)
		}
	}
	if err := produce(alice, "secret"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice writes secret: %v", err)
	}
	// Metadata shows alice what she may describe (WRITE and READ imply it).
	meta, err := kadm.NewClient(alice).Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := meta.Topics.Names(); !slices.Equal(names, []string{"orders-eu", "orders-us"}) {
		t.Fatalf("alice's Metadata: %v", names)
	}
	// She reads orders-eu as group billing, not orders-us, not as another group.
	consumer := as("alice", kgo.ConsumeTopics("orders-eu"), kgo.ConsumerGroup("billing"))
	fs := consumer.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil || len(fs.Records()) != 1 {
		t.Fatalf("alice consumes orders-eu: %v, %d records (%+v)", err, len(fs.Records()), fs.Errors())
	}
	offsets, err := kadm.NewClient(alice).FetchOffsets(ctx, "other")
	if !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("alice fetches group other's offsets: %v %v", offsets, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "secret", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1}}}}
	lresp, err := lreq.RequestWith(ctx, alice.Broker(1))
	if err != nil || len(lresp.Topics) != 1 || lresp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("alice lists secret's offsets: %+v %v", lresp, err)
	}
	if res, err := kadm.NewClient(alice).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("secret").Operations(kadm.OpRead)); err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice grants herself: %+v %v", res, err)
	}
	// bob has no ACL: nothing.
	bob := as("bob")
	if err := produce(bob, "orders-eu"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob writes: %v", err)
	}

	dreq := kmsg.NewPtrDescribeACLsRequest()
	dreq.ResourceType, dreq.ResourcePatternType, dreq.Operation, dreq.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	described, err := dreq.RequestWith(ctx, as("admin"))
	if err != nil || described.ErrorCode != 0 {
		t.Fatalf("describe: %+v %v", described, err)
	}
	total := 0
	for _, r := range described.Resources {
		total += len(r.ACLs)
	}
	if len(described.Resources) != 3 || total != 3 {
		t.Fatalf("described %d ACLs on %d resources: %+v", total, len(described.Resources), described.Resources)
	}
	deleted, err := admin.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite))
	if err != nil || len(deleted) != 1 || len(deleted[0].Deleted) != 1 {
		t.Fatalf("delete: %+v %v", deleted, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for produce(alice, "orders-us") == nil {
		if time.Now().After(deadline) {
			t.Fatal("alice still writes orders-us after the ACL was deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDenyByDefault: with the authorizer on and no ACLs, a principal is
// refused every API but ApiVersions, the SASL requests and DescribeCluster
// (which Kafka does not check): each answers an authorization error or
// reveals nothing. The test walks every API key ApiVersions lists, so an
// API added without a rule fails it.
func TestDenyByDefault(t *testing.T) {
	_, as := startACLs(t)
	ctx := ctxT(t)
	createTopic(t, kadm.NewClient(as("admin")), "t", 1, nil)
	bob := as("bob")
	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	authCodes := []int16{kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code, kerr.TransactionalIDAuthorizationFailed.Code}
	for _, k := range versions.ApiKeys {
		switch k.ApiKey {
		case 17, 18, 36, 60:
			continue
		}
		req := denyRequest(k.ApiKey)
		if req == nil {
			t.Errorf("key %d: no request in the test's table: add one", k.ApiKey)
			continue
		}
		req.SetVersion(k.MaxVersion)
		resp, err := bob.Broker(1).Request(ctx, req)
		if err != nil {
			t.Errorf("key %d v%d: %v", k.ApiKey, k.MaxVersion, err)
			continue
		}
		codes := errorCodes(reflect.ValueOf(resp))
		refused := slices.ContainsFunc(codes, func(c int16) bool { return slices.Contains(authCodes, c) })
		if !refused && !revealsNothing(resp) {
			t.Errorf("key %d v%d: answered %+v (codes %v) without an authorization error", k.ApiKey, k.MaxVersion, resp, codes)
		}
		for _, c := range codes {
			if c != 0 && !slices.Contains(authCodes, c) && c != kerr.OperationNotAttempted.Code {
				t.Errorf("key %d: code %d besides the authorization errors", k.ApiKey, c)
			}
		}
	}
}

// denyRequest is a request of key naming one resource of each kind it
// takes: topic t, group g, transactional ID x.
func denyRequest(key int16) kmsg.Request {
	topic := "t"
	switch key {
	case 0:
		r := kmsg.NewPtrProduceRequest()
		r.Acks = -1
		r.TimeoutMillis = 1000
		r.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0}}}}
		return r
	case 1:
		r := kmsg.NewPtrFetchRequest()
		r.MaxWaitMillis = 10
		r.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1000}}}}
		return r
	case 2:
		r := kmsg.NewPtrListOffsetsRequest()
		r.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1}}}}
		return r
	case 3:
		r := kmsg.NewPtrMetadataRequest()
		return r // all topics: bob sees none
	case 8:
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group = "g"
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0}}}}
		return r
	case 9:
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Group = "g"
		r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}}
		return r
	case 10:
		r := kmsg.NewPtrFindCoordinatorRequest()
		r.CoordinatorKey, r.CoordinatorKeys = "g", []string{"g"}
		return r
	case 11:
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.ProtocolType, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		return r
	case 12:
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group = "g"
		return r
	case 13:
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Group = "g"
		r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
		return r
	case 14:
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group = "g"
		return r
	case 15:
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = []string{"g"}
		return r
	case 16:
		return kmsg.NewPtrListGroupsRequest()
	case 19:
		r := kmsg.NewPtrCreateTopicsRequest()
		r.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "new", NumPartitions: 1, ReplicationFactor: 1}}
		return r
	case 20:
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TopicNames = []string{topic}
		r.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: &topic}}
		return r
	case 21:
		r := kmsg.NewPtrDeleteRecordsRequest()
		r.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: topic, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0}}}}
		return r
	case 22:
		r := kmsg.NewPtrInitProducerIDRequest()
		return r // idempotent: IDEMPOTENT_WRITE or WRITE on a topic
	case 23:
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		r.ReplicaID = -1
		r.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0}}}}
		return r
	case 24:
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.TransactionalID = "x"
		r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: []int32{0}}}
		r.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: "x", Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: topic, Partitions: []int32{0}}}}}
		return r
	case 25:
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.TransactionalID, r.Group = "x", "g"
		return r
	case 26:
		r := kmsg.NewPtrEndTxnRequest()
		r.TransactionalID = "x"
		return r
	case 27:
		r := kmsg.NewPtrWriteTxnMarkersRequest()
		r.Markers = []kmsg.WriteTxnMarkersRequestMarker{{ProducerID: 1, Topics: []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: topic, Partitions: []int32{0}}}}}
		return r
	case 28:
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.TransactionalID, r.Group = "x", "g"
		r.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0}}}}
		return r
	case 29:
		return kmsg.NewPtrDescribeACLsRequest()
	case 30:
		r := kmsg.NewPtrCreateACLsRequest()
		r.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: topic, ResourcePatternType: 3, Principal: "User:bob", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow}}
		return r
	case 31:
		r := kmsg.NewPtrDeleteACLsRequest()
		r.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceTypeAny, ResourcePatternType: 1, Operation: kmsg.ACLOperationAny, PermissionType: kmsg.ACLPermissionTypeAny}}
		return r
	case 32:
		r := kmsg.NewPtrDescribeConfigsRequest()
		r.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: topic}, {ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "1"}}
		return r
	case 33:
		r := kmsg.NewPtrAlterConfigsRequest()
		r.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: topic}}
		return r
	case 35:
		return kmsg.NewPtrDescribeLogDirsRequest()
	case 37:
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 2}}
		return r
	case 42:
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Groups = []string{"g"}
		return r
	case 43:
		return kmsg.NewPtrElectLeadersRequest()
	case 44:
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: ""}}
		return r
	case 45:
		return kmsg.NewPtrAlterPartitionAssignmentsRequest()
	case 46:
		return kmsg.NewPtrListPartitionReassignmentsRequest()
	case 47:
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = "g"
		r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
		return r
	case 50:
		return kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	case 51:
		r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		r.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "bob", Mechanism: 1}}
		return r
	case 55:
		r := kmsg.NewPtrDescribeQuorumRequest()
		r.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
		return r
	case 61:
		r := kmsg.NewPtrDescribeProducersRequest()
		r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: topic, Partitions: []int32{0}}}
		return r
	case 65:
		r := kmsg.NewPtrDescribeTransactionsRequest()
		r.TransactionalIDs = []string{"x"}
		return r
	case 66:
		return kmsg.NewPtrListTransactionsRequest()
	case 68:
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberID = "g", "m"
		return r
	case 69:
		r := kmsg.NewPtrConsumerGroupDescribeRequest()
		r.Groups = []string{"g"}
		return r
	case 75:
		r := kmsg.NewPtrDescribeTopicPartitionsRequest()
		r.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: topic}}
		return r
	case 80:
		r := kmsg.NewPtrAddRaftVoterRequest()
		r.VoterID = 9
		return r
	case 81:
		r := kmsg.NewPtrRemoveRaftVoterRequest()
		r.VoterID = 9
		return r
	}
	return nil
}

// errorCodes collects every ErrorCode field of v.
func errorCodes(v reflect.Value) []int16 {
	var out []int16
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).Name == "ErrorCode" {
					out = append(out, int16(v.Field(i).Int()))
				} else if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(v)
	return out
}

// revealsNothing: the listings a principal may not describe come back
// empty (Metadata's topics, ListGroups, ListTransactions).
func revealsNothing(resp kmsg.Response) bool {
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		return len(r.Topics) == 0
	case *kmsg.ListGroupsResponse:
		return len(r.Groups) == 0
	case *kmsg.ListTransactionsResponse:
		return len(r.TransactionStates) == 0
	}
	return false
}
