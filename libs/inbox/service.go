package inbox

import "log/slog"

// ServiceBatchSize is the most messages of one partition a service's
// consumer applies in one transaction (Config.BatchSize).
const ServiceBatchSize = 100

// Service is what a service's consumer is made of: its group, the topics
// it consumes and the handlers that apply their events.
type Service struct {
	GroupID string
	Topics  []string
	// Handler applies one event; BatchHandler the events of a partition at
	// hand, up to ServiceBatchSize, in one transaction (Handler applies
	// them one by one when a batch fails).
	Handler      Handler
	BatchHandler BatchHandler
}

// ServiceConfig is the consumer configuration every service runs with
// (profit, withdrawal and stats): s's group, topics and handlers on
// brokers, in batches of ServiceBatchSize, logging to log; the other
// settings (retries, backoff, batch wait, commit interval, the Kafka
// group's timeouts) are the package's defaults.
func ServiceConfig(brokers []string, s Service, log *slog.Logger) Config {
	return Config{
		Brokers:      brokers,
		GroupID:      s.GroupID,
		Topics:       s.Topics,
		Handler:      s.Handler,
		BatchHandler: s.BatchHandler,
		BatchSize:    ServiceBatchSize,
		Logger:       log,
	}
}
