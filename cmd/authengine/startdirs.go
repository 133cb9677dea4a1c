package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/authengine/authengine/config"
)

// prepareDirs creates the directories serve writes to (data_dir in
// development mode, for the generated keys; the embedded store's
// directory) and checks each takes a file, before any key is generated or
// any file written: a start that cannot write fails first, in one line,
// with nothing left behind.
func prepareDirs(cfg *config.Config) error {
	type dir struct{ setting, path string }
	var dirs []dir
	if cfg.API.Development {
		dirs = append(dirs, dir{"data_dir", cfg.DataDir})
	}
	if cfg.Store.Type == "embedded" {
		dirs = append(dirs, dir{"store.embedded.path", filepath.Dir(cfg.Store.Embedded.Path)})
	}
	for _, d := range dirs {
		if err := writableDir(d.path); err != nil {
			return fmt.Errorf("%s: directory %s cannot be used: %w; create it writable by this user, or point %s at a writable directory", d.setting, d.path, err, d.setting)
		}
	}
	return nil
}

// writableDir creates dir (0700) when missing and checks a file can be
// created in it (a read-only file system, a directory of another user).
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".authengine-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
