// Command ferretdb-launcher runs FerretDB (a MongoDB-wire-compatible database) through its
// embeddable package, bound to one address. Its storage is PostgreSQL when the environment
// variable FERRETDB_POSTGRESQL_URL is set (the URL holds a password: never on the command
// line), otherwise SQLite files in the -data folder (required then, unused with PostgreSQL).
//
//	go build -o ferretdb-launcher . && FERRETDB_POSTGRESQL_URL=postgres://... ./ferretdb-launcher -listen 127.0.0.1:27017
//	./ferretdb-launcher -listen 127.0.0.1:27017 -data /abs/dir   # SQLite
//
// Importing the package instead of building cmd/ferretdb avoids the version.txt panic of
// module builds and keeps telemetry off.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	data := flag.String("data", "", "directory of the SQLite database files (required without FERRETDB_POSTGRESQL_URL)")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	config := ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Logger: logger}
	var storage string
	if url := os.Getenv("FERRETDB_POSTGRESQL_URL"); url != "" {
		config.Handler, config.PostgreSQLURL, storage = "postgresql", url, "postgresql"
	} else {
		if *data == "" {
			log.Fatal("-data is required when FERRETDB_POSTGRESQL_URL is not set")
		}
		dir, err := filepath.Abs(*data)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			log.Fatal(err)
		}
		config.Handler, config.SQLiteURL, storage = "sqlite", "file:"+dir+"/", "sqlite "+dir
	}
	f, err := ferretdb.New(&config)
	if err != nil {
		log.Fatalf("cannot start FerretDB on %s: %s", *listen, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Info("FerretDB listening", "addr", *listen, "storage", storage)
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
