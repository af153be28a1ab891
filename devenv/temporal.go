// Package devenv brings up what `candor dev` and the end-to-end tests need on
// a developer's machine: the real Temporal server, embedded in-process from
// the Temporal CLI's dev server, and a Postgres when none is configured.
//
// Only `candor dev` (built without the nodev tag) and tests import it, so the
// Temporal server never links into the production serve and worker paths.
package devenv

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/temporalio/cli/temporalcli/devserver"
)

// Temporal is a running embedded Temporal server.
type Temporal struct {
	Address string // gRPC host:port
	UIURL   string // "" when started without the UI
	srv     *devserver.Server
}

// TemporalOptions says where to listen.
type TemporalOptions struct {
	IP     string // default 127.0.0.1
	Port   int    // gRPC; 0 picks a free port
	UIPort int    // 0 = no UI
	// UICodecEndpoint is the remote codec the UI decodes payloads with.
	UICodecEndpoint string
	DatabaseFile    string // SQLite file; "" keeps everything in memory
	Namespace       string // default "default"
	Logger          *slog.Logger
}

// StartTemporal starts the dev server and returns once it accepts calls.
func StartTemporal(o TemporalOptions) (*Temporal, error) {
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Port == 0 {
		o.Port = devserver.MustGetFreePort(o.IP)
	} else if err := portFree(o.IP, o.Port); err != nil {
		return nil, fmt.Errorf("Temporal port %d is taken (another Temporal running? set TEMPORAL_ADDRESS to use it): %w", o.Port, err)
	}
	opts := devserver.StartOptions{
		FrontendIP:             o.IP,
		FrontendPort:           o.Port,
		Namespaces:             []string{o.Namespace},
		ClusterID:              "5b5c2a86-9b8e-4d7c-8d57-1f0b1c0a7233",
		MasterClusterName:      "active",
		CurrentClusterName:     "active",
		InitialFailoverVersion: 1,
		Logger:                 o.Logger,
		LogLevel:               slog.LevelError,
		DatabaseFile:           o.DatabaseFile,
		DynamicConfigValues: map[string]any{
			// Deleting a closed workflow waits until the close task is
			// acknowledged; acks move every 30 s by default. One machine
			// can afford 1 s, so erasures finish in seconds here.
			"history.transferProcessorUpdateAckInterval":   "1s",
			"history.visibilityProcessorUpdateAckInterval": "1s",
		},
	}
	if o.UIPort != 0 {
		if err := portFree(o.IP, o.UIPort); err != nil {
			return nil, fmt.Errorf("Temporal UI port %d is taken: %w", o.UIPort, err)
		}
		opts.UIIP, opts.UIPort, opts.UICodecEndpoint = o.IP, o.UIPort, o.UICodecEndpoint
	}
	srv, err := devserver.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal: %w", err)
	}
	t := &Temporal{Address: net.JoinHostPort(o.IP, strconv.Itoa(o.Port)), srv: srv}
	if o.UIPort != 0 {
		t.UIURL = fmt.Sprintf("http://%s:%d", o.IP, o.UIPort)
	}
	return t, nil
}

// Stop shuts the server down.
func (t *Temporal) Stop() { t.srv.Stop() }

func portFree(ip string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	ln.Close()
	// Give the kernel a moment before the server binds the same port.
	time.Sleep(5 * time.Millisecond)
	return nil
}
