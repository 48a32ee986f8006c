package doctor

import "golang.org/x/sys/unix"

func getxattr(path, attr string) ([]byte, error) {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, attr, buf)
	if err == unix.ENODATA {
		return nil, errNoAttribute
	}
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
