package api

// DescribeLogDirs v0-v4 (v1 is the same as v0): the one log directory,
// the size of every partition in it, and (v4) the filesystem's total and
// usable bytes.

import (
	"context"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeLogDirs(h *Handlers, _ context.Context, req *kmsg.DescribeLogDirsRequest) (*kmsg.DescribeLogDirsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = h.LogDir
	var st syscall.Statfs_t
	if err := syscall.Statfs(h.LogDir, &st); err == nil {
		dir.TotalBytes = int64(st.Blocks) * st.Bsize
		dir.UsableBytes = int64(st.Bavail) * st.Bsize
	}
	img := h.image()
	add := func(topic string, partitions []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = topic
		for _, idx := range partitions {
			p := h.Partitions.Get(topic, idx)
			if p == nil {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = idx
			dp.Size = p.Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		names := make([]string, 0, len(img.Topics))
		for name := range img.Topics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			var ps []int32
			for _, p := range img.Topics[name].Partitions {
				ps = append(ps, p.Partition)
			}
			add(name, ps)
		}
	} else {
		for _, rt := range req.Topics {
			add(rt.Topic, rt.Partitions)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp, nil
}
