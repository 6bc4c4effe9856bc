package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve/configtest"
)

func TestConfigRefusesInsecureProduction(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/auth", "APP_ENV": "production",
		"JWT_SIGNING_KEY_FILE": "/run/secrets/key.pem", "BOOTSTRAP_ADMIN_PASSWORD": "a-real-secret-password"}
	configtest.Run(t, base, map[string]configtest.Case{
		"complete":            {},
		"no signing key":      {Change: map[string]string{"JWT_SIGNING_KEY_FILE": ""}, Want: "JWT_SIGNING_KEY"},
		"no admin password":   {Change: map[string]string{"BOOTSTRAP_ADMIN_PASSWORD": ""}, Want: "BOOTSTRAP_ADMIN_PASSWORD is required"},
		"default password":    {Change: map[string]string{"BOOTSTRAP_ADMIN_PASSWORD": "ChangeMe"}, Want: "default password"},
		"weak bcrypt":         {Change: map[string]string{"BCRYPT_COST": "10"}, Want: "BCRYPT_COST"},
		"negative xff hops":   {Change: map[string]string{"XFF_TRUSTED_HOPS": "-1"}, Want: "XFF_TRUSTED_HOPS"},
		"one xff hop":         {Change: map[string]string{"XFF_TRUSTED_HOPS": "1"}},
		"no database":         {Change: map[string]string{"DATABASE_URL": ""}, Want: "DATABASE_URL"},
		"bad env":             {Change: map[string]string{"APP_ENV": "prod"}, Want: "APP_ENV"},
		"development no keys": {Change: map[string]string{"APP_ENV": "development", "JWT_SIGNING_KEY_FILE": "", "BOOTSTRAP_ADMIN_PASSWORD": ""}},
	}, func(bool) error {
		_, err := loadConfig()
		return err
	})
}
