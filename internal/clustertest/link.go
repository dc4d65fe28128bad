package clustertest

import "github.com/samsa-streaming/samsa/internal/netfault"

// The fault proxy lives in package netfault, which samsa chaos also uses
// (a package without test dependencies); these names keep the harness's
// API as it was.
type (
	Link       = netfault.Link
	LinkConfig = netfault.LinkConfig
	LinkStats  = netfault.LinkStats
	Fault      = netfault.Fault
	Direction  = netfault.Direction
	Mode       = netfault.Mode
)

const (
	ToTarget   = netfault.ToTarget
	FromTarget = netfault.FromTarget
	Pass       = netfault.Pass
	Drop       = netfault.Drop
	Blackhole  = netfault.Blackhole
)

// NewLink starts a link; see netfault.NewLink.
func NewLink(cfg LinkConfig) (*Link, error) { return netfault.NewLink(cfg) }
