package main

import (
	"strings"
	"testing"
)

func TestConfigRefusesInsecureProduction(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/auth", "APP_ENV": "production",
		"JWT_SIGNING_KEY_FILE": "/run/secrets/key.pem", "BOOTSTRAP_ADMIN_PASSWORD": "a-real-secret-password"}
	cases := map[string]struct {
		change map[string]string
		want   string // "" = accepted
	}{
		"complete":            {nil, ""},
		"no signing key":      {map[string]string{"JWT_SIGNING_KEY_FILE": ""}, "JWT_SIGNING_KEY"},
		"no admin password":   {map[string]string{"BOOTSTRAP_ADMIN_PASSWORD": ""}, "BOOTSTRAP_ADMIN_PASSWORD is required"},
		"default password":    {map[string]string{"BOOTSTRAP_ADMIN_PASSWORD": "ChangeMe"}, "default password"},
		"weak bcrypt":         {map[string]string{"BCRYPT_COST": "10"}, "BCRYPT_COST"},
		"no database":         {map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		"bad env":             {map[string]string{"APP_ENV": "prod"}, "APP_ENV"},
		"development no keys": {map[string]string{"APP_ENV": "development", "JWT_SIGNING_KEY_FILE": "", "BOOTSTRAP_ADMIN_PASSWORD": ""}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range c.change {
				t.Setenv(k, v)
			}
			_, err := loadConfig()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}
