package api

import (
	"context"
	"net"

	"github.com/samsa-streaming/samsa/internal/server"
)

// clientKey carries the requesting client's ID and host to group handlers,
// which record them per member (DescribeGroups shows them).
type clientKey struct{}

type clientInfo struct {
	id   string
	host string
	// listener is the listener the request came in on: addresses in
	// responses are that listener's.
	listener string
	conn     *server.Conn
}

func withClient(ctx context.Context, c *server.Conn, hdr server.Header) context.Context {
	info := clientInfo{id: hdr.ClientID, listener: "PLAINTEXT", conn: c}
	if c != nil && c.Listener != nil {
		info.listener = c.Listener.Name
	}
	if c != nil && c.Remote != nil {
		info.host = c.Remote.String()
		if host, _, err := net.SplitHostPort(info.host); err == nil {
			info.host = "/" + host
		}
	}
	return context.WithValue(ctx, clientKey{}, info)
}

func client(ctx context.Context) clientInfo {
	info, _ := ctx.Value(clientKey{}).(clientInfo)
	return info
}
