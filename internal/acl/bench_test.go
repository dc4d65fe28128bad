package acl

import (
	"fmt"
	"testing"
)

// benchmarkAuthorizer holds 10,000 ACLs shaped like a busy multi-tenant
// cluster: 50 teams, each with a PREFIXED ACL on its topics and groups for
// a handful of its own service principals; 2,000 topics, each with LITERAL
// READ or WRITE ACLs for principals from across the cluster; a few wildcard
// and DENY entries; transactional ids to make up the 10,000. It returns the requests to cycle through: principals
// reading and writing topics they own, topics they merely match by prefix,
// and topics they are not granted at all.
func benchmarkAuthorizer(b *testing.B) (*Authorizer, []request) {
	a := newAuthorizer(b, Config{SuperUsers: []string{"User:admin"}})
	const (
		teams            = 50
		servicesPerTeam  = 20
		topics           = 1500
		principalsPerTop = 4
	)
	var bindings []Binding
	service := func(team, i int) string { return fmt.Sprintf("User:team%02d-svc%02d", team, i) }
	for team := range teams {
		topicPrefix := prefixed(ResourceTopic, fmt.Sprintf("team%02d.", team))
		groupPrefix := prefixed(ResourceGroup, fmt.Sprintf("team%02d-", team))
		for i := range servicesPerTeam {
			bindings = append(bindings,
				bind(topicPrefix, allowEntry(service(team, i), "*", OperationRead)),
				bind(topicPrefix, allowEntry(service(team, i), "*", OperationWrite)),
				bind(groupPrefix, allowEntry(service(team, i), "*", OperationRead)))
		}
		// Longer, narrower prefixes too, so several prefix lengths exist.
		bindings = append(bindings,
			bind(prefixed(ResourceTopic, fmt.Sprintf("team%02d.private.", team)), denyEntry("User:*", "*", OperationRead)),
			bind(prefixed(ResourceTopic, fmt.Sprintf("team%02d.events.v", team)), allowEntry("User:auditor", "*", OperationDescribe)))
	}
	for topic := range topics {
		team := topic % teams
		name := literal(ResourceTopic, fmt.Sprintf("team%02d.events.v%d", team, topic))
		for k := range principalsPerTop {
			reader := service((team+k+1)%teams, (topic+k)%servicesPerTeam)
			op := OperationRead
			if k == 0 {
				op = OperationWrite
			}
			bindings = append(bindings, bind(name, allowEntry(reader, "*", op)))
		}
	}
	bindings = append(bindings,
		bind(literal(ResourceTopic, "*"), allowEntry("User:monitor", "*", OperationDescribe)),
		bind(literal(ResourceCluster, ClusterName), allowEntry("User:*", "*", OperationIdempotentWrite)))
	for len(bindings) < 10_000 {
		i := len(bindings)
		bindings = append(bindings, bind(literal(ResourceTransactionalID, fmt.Sprintf("txn-%d", i)), allowEntry(service(i%teams, i%servicesPerTeam), "*", OperationWrite)))
	}
	if len(bindings) != 10_000 {
		b.Fatalf("%d bindings, want 10000", len(bindings))
	}
	if err := a.Replace(bindings); err != nil {
		b.Fatal(err)
	}
	if a.Len() != 10_000 {
		b.Fatalf("Len %d, want 10000", a.Len())
	}

	var requests []request
	for i := range 1024 {
		team, topic := i%teams, (i*7)%topics
		name := fmt.Sprintf("team%02d.events.v%d", topic%teams, topic)
		requests = append(requests,
			request{service(team, i%servicesPerTeam), "10.1.2.3", OperationRead, literal(ResourceTopic, name), false},
			request{service(team, i%servicesPerTeam), "10.1.2.3", OperationWrite, literal(ResourceTopic, fmt.Sprintf("team%02d.orders-%d", team, i)), false},
			request{service(team, i%servicesPerTeam), "10.1.2.3", OperationRead, literal(ResourceGroup, fmt.Sprintf("team%02d-consumers", team)), false},
			request{"User:stranger", "10.9.9.9", OperationDescribe, literal(ResourceTopic, name), false})
	}
	return a, requests
}

func BenchmarkAuthorize(b *testing.B) {
	a, requests := benchmarkAuthorizer(b)
	allowed := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := &requests[i%len(requests)]
		if a.Authorize(r.principal, r.host, r.op, r.resource).Allowed {
			allowed++
		}
	}
	if allowed == 0 {
		b.Fatal("nothing allowed: the benchmark measures only denials")
	}
}

// BenchmarkAuthorizeParallel is the broker's case: every connection's
// goroutine asking at once, so the cost of the shared read lock shows.
func BenchmarkAuthorizeParallel(b *testing.B) {
	a, requests := benchmarkAuthorizer(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			r := &requests[i%len(requests)]
			a.Authorize(r.principal, r.host, r.op, r.resource)
		}
	})
}

// BenchmarkAuthorizeByResourceType is the worst case, a principal with no
// WRITE on any topic: every topic ACL is looked at, as in Kafka.
// InitProducerId asks it once per producer, not per batch.
func BenchmarkAuthorizeByResourceType(b *testing.B) {
	a, _ := benchmarkAuthorizer(b)
	if a.AuthorizeByResourceType("User:stranger", "10.1.2.3", OperationWrite, ResourceTopic).Allowed {
		b.Fatal("stranger may write")
	}
	if !a.AuthorizeByResourceType("User:team07-svc03", "10.1.2.3", OperationWrite, ResourceTopic).Allowed {
		b.Fatal("team07-svc03 may not write")
	}
	b.ReportAllocs()
	for b.Loop() {
		a.AuthorizeByResourceType("User:stranger", "10.1.2.3", OperationWrite, ResourceTopic)
	}
}
