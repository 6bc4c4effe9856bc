// Command auth is the auth service: identities, teams and tokens
// (docs/api.md#auth-service). Configuration comes from the environment; see
// config.go.
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

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
	"github.com/fundplatform/platform/services/auth/internal/keys"
	"github.com/fundplatform/platform/services/auth/internal/store"
	"github.com/fundplatform/platform/services/auth/internal/transport"
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	listKeys := flag.Bool("list-keys", false, "list the signing keys recorded in the database (kid, state) and exit")
	retireKey := flag.String("retire-key", "", "retire this `kid` at once — it leaves the JWKS and its tokens are refused — and exit; the key must have been rotated out")
	flag.Parse()

	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "auth: configuration:", err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := serve.Healthcheck(cfg.HTTPAddr); err != nil {
			fmt.Fprintln(os.Stderr, "auth: not ready:", err)
			os.Exit(1)
		}
		return
	}
	if *listKeys || *retireKey != "" {
		if err := manageKeys(context.Background(), cfg, *listKeys, *retireKey, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "auth:", err)
			os.Exit(1)
		}
		return
	}
	log := observability.NewLogger(os.Stdout, "auth", cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(log)
	if err := run(context.Background(), cfg, log, *migrateOnly); err != nil {
		log.Error("auth stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger, migrateOnly bool) error {
	shutdownTracing := observability.SetupTracing(ctx, "auth", log)
	defer func() { _ = shutdownTracing(context.Background()) }()

	pool, err := pg.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, store.Migrations()); err != nil {
		return err
	}
	if migrateOnly {
		log.Info("migrations applied; exiting (-migrate-only)")
		return nil
	}
	st := store.New(pool)

	key, err := keys.Load(cfg.SigningKeyFile, cfg.SigningKey)
	if err != nil {
		return err
	}
	if key == nil {
		// Validate() refuses this in production.
		log.Warn("no JWT_SIGNING_KEY(_FILE): generated an ephemeral signing key; tokens die with this process")
		key = keys.Generate()
	}
	signer := keys.NewSigner(key, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTokenTTL)
	publisher, err := keys.NewPublisher(ctx, signer, st, nil)
	if err != nil {
		return err
	}
	log.Info("signing key registered", "kid", signer.KID())

	if err := bootstrapAdmin(ctx, cfg, st, log); err != nil {
		return err
	}

	svc := identity.New(st, signer, identity.Options{RefreshTTL: cfg.RefreshTokenTTL, BcryptCost: cfg.BcryptCost})
	// The service accepts what its JWKS publishes: tokens of a rotated key
	// keep working until the key leaves the JWKS, as in the other services.
	verifier := libauth.NewVerifier(publisher, cfg.JWTIssuer, cfg.JWTAudience)
	registry, reg := observability.NewRegistry("auth")
	metrics := observability.NewHTTPMetrics(reg, log)
	handler := transport.NewHandler(endpoint.New(svc, publisher), verifier, metrics.Wrap)

	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(handler, "auth"),
		Registry: registry,
		Logger:   log,
		Checks:   []serve.Check{{Name: "database", Check: pool.Ping}},
	}
	return srv.Run(ctx)
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
