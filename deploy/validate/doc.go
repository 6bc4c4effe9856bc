// Package validate holds tests only: they check the deployment artefacts
// (deploy/envoy, docker-compose.yml, deploy/helm) with the real libraries of
// Envoy (go-control-plane), Docker Compose (compose-go) and Helm, without the
// binaries. This module keeps those heavy dependencies out of the services'
// modules.
package validate
