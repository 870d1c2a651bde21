// Package providertest has fake upstreams that speak each vendor's exact wire format,
// with programmable usage, errors, delays and broken connections. Tests of every
// package use them instead of the real services, and the load benchmark serves them
// as its upstream, so their hot paths are kept allocation-light.
package providertest
