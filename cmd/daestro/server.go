package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"daestro/apiserver"
	"daestro/internal/temporalx"
)

func runServer(ctx context.Context, stderr io.Writer) error {
	cfg, log, st, err := openRole(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := cfg.CheckTransport(); err != nil {
		return err
	}
	serverTLS, err := cfg.ServerTLS()
	if err != nil {
		return err
	}
	tel, err := newTelemetry(ctx, "server")
	if err != nil {
		return err
	}
	defer tel.close()
	tel.metrics.ReadAtScrape(databaseGauges(st))
	// A lazy client lets the API start while Temporal is still coming up; /readyz says so.
	tc, err := temporalx.NewLazyClient(temporalOptions(cfg, log, tel))
	if err != nil {
		return err
	}
	defer tc.Close()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (DAESTRO_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	log.Info("API listening", "url", cfg.PublicURL)
	opts := serverOptions(cfg, st, tc, log, tel)
	opts.TLS = serverTLS
	srv := apiserver.New(opts)
	return srv.Serve(ctx, ln, cfg.ShutdownTimeout)
}
