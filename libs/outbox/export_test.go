package outbox

// SetAfterPublish installs a hook that runs after a batch is written to
// Kafka and before it is marked published; an error from it aborts the
// batch as a crash at that point would.
func SetAfterPublish(r *Relay, fn func() error) { r.afterPublish = fn }
