package identity

// WithCompare returns o with the password comparison replaced by compare,
// for tests that look at what is held while a password is checked.
func WithCompare(o Options, compare func(hash, password []byte) error) Options {
	o.compare = compare
	return o
}
