package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// formatTopicID prints a topic ID as Kafka's tools do (Uuid.toString): URL-safe
// base64 without padding, 22 characters. kadm's own String is padded standard
// base64, which Kafka's tools would refuse.
func formatTopicID(id kadm.TopicID) string { return metadata.TopicID(id).String() }

// parseTopicID reads a topic ID as Kafka's Uuid.fromString does: URL-safe
// base64, the padding optional.
func parseTopicID(s string) (kadm.TopicID, error) {
	if len(s) == 24 {
		s = strings.TrimSuffix(s, "==")
	}
	id, err := metadata.ParseTopicID(s)
	if err != nil {
		return kadm.TopicID{}, fmt.Errorf("topic ID %q: want 22 characters of URL-safe base64, as Kafka prints them", s)
	}
	return kadm.TopicID(id), nil
}

// topicNamesByID resolves topic IDs (as typed by a user) to names, from the
// cluster's metadata, internal topics included.
func topicNamesByID(ctx context.Context, adm *kadm.Client, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	wanted := make([]kadm.TopicID, len(ids))
	for i, s := range ids {
		id, err := parseTopicID(s)
		if err != nil {
			return nil, err
		}
		wanted[i] = id
	}
	details, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[kadm.TopicID]string, len(details))
	for name, d := range details {
		byID[d.ID] = name
	}
	names := make([]string, len(wanted))
	for i, id := range wanted {
		name, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("topic ID %s: UNKNOWN_TOPIC_ID: no topic has this ID", formatTopicID(id))
		}
		names[i] = name
	}
	return names, nil
}

// addTopicIDFlag adds --topic-id, Kafka's kafka-topics.sh flag naming topics by ID.
func addTopicIDFlag(cmd *cobra.Command, ids *[]string) {
	cmd.Flags().StringSliceVar(ids, "topic-id", nil, "topic IDs (as Kafka prints them, e.g. bCloNBPFSkCvqKYLlr75Ew) instead of or with names; repeatable")
}

// topicsOrIDs wants at least one topic name or --topic-id.
func topicsOrIDs(ids *[]string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 && len(*ids) == 0 {
			return fmt.Errorf("want at least one topic name or --topic-id")
		}
		return nil
	}
}
