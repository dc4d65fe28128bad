package config

// KnownTopic reports whether name is a topic config.
func KnownTopic(name string) bool { return topicByName[name] != nil }

// KnownBroker reports whether name is a broker config.
func KnownBroker(name string) bool { return brokerByName[name] != nil }
