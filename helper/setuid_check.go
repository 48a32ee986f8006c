package helper

// RefuseSetuid fails when the real and effective user or group differ,
// which means the helper file was made setuid or setgid. Commands call it
// before they read anything, also on paths that run before DropPrivileges.
func RefuseSetuid() error { return refuseSetuid() }
