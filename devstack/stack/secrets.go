package stack

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewPassword returns a random password of n letters and digits (at least
// one upper-case letter, one lower-case letter and one digit).
func NewPassword(n int) (string, error) {
	max := big.NewInt(int64(len(passwordAlphabet)))
	for {
		var b strings.Builder
		for range n {
			i, err := rand.Int(rand.Reader, max)
			if err != nil {
				return "", err
			}
			b.WriteByte(passwordAlphabet[i.Int64()])
		}
		p := b.String()
		if strings.ContainsAny(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(p, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(p, "0123456789") {
			return p, nil
		}
	}
}

// WriteSigningKey generates an Ed25519 private key and writes it to path as
// a PKCS#8 PEM block ("PRIVATE KEY"), readable by its owner only. The file is
// replaced atomically.
func WriteSigningKey(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".jwt-signing-key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
