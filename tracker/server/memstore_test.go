package server_test

import (
	"testing"

	"shoal/tracker/server"
	"shoal/tracker/server/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) server.Store { return server.NewMemoryStore() })
}
