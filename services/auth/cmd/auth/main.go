// Command auth is the auth service: identities, teams and tokens
// (docs/api.md#auth-service). Configuration comes from the environment; see
// config.go and docs/operations.md.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
	"github.com/fundplatform/platform/services/auth/internal/keys"
	"github.com/fundplatform/platform/services/auth/internal/store"
	"github.com/fundplatform/platform/services/auth/internal/transport"
)

func main() { serve.Main(program()) }

// program is the service as serve.Main runs it: its own flags -list-keys
// and -retire-key manage the signing keys and exit instead of serving.
func program() serve.Program[config] {
	var listKeys bool
	var retireKey string
	return serve.Program[config]{
		Name:       "auth",
		Load:       func(bool) (config, error) { return loadConfig() },
		Migrations: store.Migrations(),
		Start:      start,
		Commands: []serve.Command[config]{{
			Register: func(fs *flag.FlagSet) {
				fs.BoolVar(&listKeys, "list-keys", false, "list the signing keys recorded in the database (kid, state) and exit")
				fs.StringVar(&retireKey, "retire-key", "", "retire this `kid` at once — it leaves the JWKS and its tokens are refused — and exit; the key must have been rotated out")
			},
			Run: func(ctx context.Context, cfg config) (bool, error) {
				if !listKeys && retireKey == "" {
					return false, nil
				}
				return true, manageKeys(ctx, cfg, listKeys, retireKey, os.Stdout)
			},
		}},
	}
}

// start wires the service once its database is migrated: the signing key
// and its publication, the bootstrap admin, store → service → endpoints →
// transport, and the readiness check.
func start(ctx context.Context, cfg config, pool *pgxpool.Pool, log *slog.Logger) (*serve.Server, error) {
	st := store.New(pool)

	key, err := keys.Load(cfg.SigningKeyFile, cfg.SigningKey)
	if err != nil {
		return nil, err
	}
	if key == nil {
		// Validate() refuses this in production.
		log.Warn("no JWT_SIGNING_KEY(_FILE): generated an ephemeral signing key; tokens die with this process")
		key = keys.Generate()
	}
	signer := keys.NewSigner(key, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTokenTTL)
	publisher, err := keys.NewPublisher(ctx, signer, st, nil)
	if err != nil {
		return nil, err
	}
	log.Info("signing key registered", "kid", signer.KID())

	if err := bootstrapAdmin(ctx, cfg, st, log); err != nil {
		return nil, err
	}

	svc := identity.New(st, signer, identity.Options{RefreshTTL: cfg.RefreshTokenTTL, BcryptCost: cfg.BcryptCost})
	// The service accepts what its JWKS publishes: tokens of a rotated key
	// keep working until the key leaves the JWKS, as in the other services.
	verifier := libauth.NewVerifier(publisher, cfg.JWTIssuer, cfg.JWTAudience)
	verifier.CheckRevocationOnWrites(transport.Revocation(svc))
	registry, reg := observability.NewRegistry("auth")
	metrics := observability.NewHTTPMetrics(reg, log)
	handler := transport.NewHandler(endpoint.New(svc, publisher), verifier, metrics.Wrap, transport.TrustedHops(cfg.XFFTrustedHops))
	return serve.NewServer("auth", cfg.Config, handler, registry, pool, log), nil
}

func bootstrapAdmin(ctx context.Context, cfg config, st *store.Store, log *slog.Logger) error {
	password := cfg.BootstrapAdminPassword
	generated := false
	if password == "" {
		password = randomPassword(24)
		generated = true
	}
	created, err := identity.Bootstrap(ctx, st, cfg.BootstrapAdminEmail, password, cfg.BcryptCost, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		attrs := []any{"email", identity.NormalizeEmail(cfg.BootstrapAdminEmail)}
		if generated {
			// Only in development (production requires the variable):
			// the password is shown once so the developer can log in.
			attrs = append(attrs, "generated_password", password)
		}
		log.Warn("bootstrap admin created", attrs...)
	}
	return nil
}

func randomPassword(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[j.Int64()]
	}
	return string(b)
}
