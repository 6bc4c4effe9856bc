// Package validate holds tests only: they check the deployment artefacts
// (deploy/envoy, docker-compose.yml, deploy/helm) with the real libraries of
// Envoy (go-control-plane), Docker Compose (compose-go) and Helm, without
// their binaries, and run the services' own binaries with exactly the
// environment compose and the rendered Helm Deployments give them (the
// parity tests, parity_test.go). This module keeps those heavy dependencies
// out of the services' modules.
package validate
