package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
	"github.com/google/renameio/v2"
)

const servicesFileHeader = `# Services added with portgate ctl. portgate serve rewrites this file
# whenever one is added or removed: change it with portgate ctl, or stop
# the server before editing it by hand.

`

// servicesFile is the file of services added through the Local Manager.
type servicesFile struct {
	Services []ServiceConfig `toml:"service"`
}

// LoadServicesFile reads the services that portgate ctl added. A missing
// file holds no services.
func LoadServicesFile(path string) ([]ServiceConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read services file: %w", err)
	}
	svcs, err := parseServicesFile(data)
	if err != nil {
		return nil, fmt.Errorf("services file %s: %w", path, err)
	}
	return svcs, nil
}

// parseServicesFile decodes the text of a services file and checks each
// service in it.
func parseServicesFile(data []byte) ([]ServiceConfig, error) {
	var f servicesFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, err
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("unknown key %q", un[0].String())
	}
	for _, s := range f.Services {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("service %q: %w", s.Name, err)
		}
	}
	return f.Services, nil
}

// WriteServicesFile replaces the file at path with svcs. It writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory, so that after a crash at any point the file holds
// either the old or the new list.
func WriteServicesFile(path string, svcs []ServiceConfig) error {
	data, err := encodeServicesFile(svcs)
	if err != nil {
		return err
	}
	// The temporary file goes beside path. Without a directory, renameio
	// probes TMPDIR with two more files and a rename on every write.
	if err := renameio.WriteFile(path, data, 0o600, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("write services file %s: %w: check that the directory exists and the server's account may write to it", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write services file %s: sync directory: %w", path, err)
	}
	return nil
}

// encodeServicesFile returns the text of a services file that contains svcs.
func encodeServicesFile(svcs []ServiceConfig) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(servicesFileHeader)
	if err := toml.NewEncoder(&buf).Encode(servicesFile{Services: svcs}); err != nil {
		return nil, fmt.Errorf("encode services file: %w", err)
	}
	return buf.Bytes(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AddManaged appends the services of the services file to c and checks
// that no name is defined in both files.
func (c *Config) AddManaged(path string, svcs []ServiceConfig) error {
	names := map[string]bool{}
	for _, s := range c.Services {
		names[s.Name] = true
	}
	for _, s := range svcs {
		if names[s.Name] {
			return fmt.Errorf("service %q is defined both in the config and in %s: remove it from one of them", s.Name, path)
		}
		names[s.Name] = true
	}
	c.Services = append(c.Services, svcs...)
	return nil
}
