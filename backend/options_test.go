package backend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, Options{}.Validate())
	require.NoError(t, Options{Threads: 3}.Validate())
	err := Options{Threads: -3}.Validate()
	require.EqualError(t, err, "backend: Options.Threads -3: want 0 or more")
	// Open refuses bad options before it looks for a driver.
	for _, dev := range []string{"cpu", "auto", "nope"} {
		_, err = Open(dev, Options{Threads: -3})
		require.EqualError(t, err, "backend: Options.Threads -3: want 0 or more", dev)
	}
}
