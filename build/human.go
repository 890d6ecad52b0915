package build

import "fmt"

// HumanBytes formats n in binary units (1 KiB = 1024 B), with the IEC names
// so that nobody reads 1,048,576 bytes as "1 MB": one formatter for every
// command, so that a size reads the same in build's summary, publish's
// progress line and its summary.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
