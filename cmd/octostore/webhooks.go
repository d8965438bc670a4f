package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/octostore/octostore/internal/webhook"
)

type webhookFlags struct {
	cfg    webhook.Config
	caFile string
}

func addWebhookFlags(fs *flag.FlagSet) *webhookFlags {
	w := &webhookFlags{}
	fs.BoolVar(&w.cfg.AllowPrivate, "webhook-allow-private", false, "let webhooks target loopback, private, link-local and other special-purpose addresses")
	fs.StringVar(&w.caFile, "webhook-ca-file", "", "PEM file of CAs trusted for webhook delivery, besides the system's")
	fs.DurationVar(&w.cfg.RetryMin, "webhook-retry-min", time.Second, "wait before the first retry of a failed delivery")
	fs.DurationVar(&w.cfg.RetryMax, "webhook-retry-max", 5*time.Minute, "longest wait between delivery retries")
	fs.DurationVar(&w.cfg.FailureWindow, "webhook-failure-window", 24*time.Hour, "a webhook failing this long is deactivated")
	return w
}

// config returns the delivery settings, with the CA file loaded.
func (w *webhookFlags) config() (webhook.Config, error) {
	if w.cfg.RetryMin <= 0 || w.cfg.RetryMax < w.cfg.RetryMin || w.cfg.FailureWindow <= 0 {
		return w.cfg, errors.New("--webhook-retry-min must be positive and at most --webhook-retry-max; --webhook-failure-window positive")
	}
	if w.caFile == "" {
		return w.cfg, nil
	}
	pem, err := os.ReadFile(w.caFile)
	if err != nil {
		return w.cfg, fmt.Errorf("--webhook-ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return w.cfg, fmt.Errorf("--webhook-ca-file: %s holds no PEM certificate", w.caFile)
	}
	w.cfg.RootCAs = pool
	return w.cfg, nil
}
