package secret

import (
	"math"
	"strings"
	"testing"
)

func TestBase62LengthAndAlphabet(t *testing.T) {
	for _, n := range []int{1, 27, 43, 64, 65, 200} {
		s := Base62(n)
		if len(s) != n {
			t.Fatalf("Base62(%d) has length %d", n, len(s))
		}
		if !IsBase62(s) {
			t.Fatalf("Base62(%d) = %q has a character outside the alphabet", n, s)
		}
	}
}

func TestBase62Uniform(t *testing.T) {
	// 62 000 characters: each symbol is expected 1000 times. A chi-squared
	// statistic over 61 degrees of freedom above 120 has probability below
	// 1e-5 for a uniform source; the modulo bias this guards against (bytes
	// 248..255 folded onto the first 8 symbols) would add about 3% to those
	// symbols and is caught with a larger sample in the bias test below.
	const n = 62000
	counts := map[rune]int{}
	for _, r := range Base62(n) {
		counts[r]++
	}
	var chi2 float64
	for _, r := range Base62Alphabet {
		d := float64(counts[r]) - n/62.0
		chi2 += d * d / (n / 62.0)
	}
	if chi2 > 120 {
		t.Fatalf("chi-squared %.1f over 61 degrees of freedom: not uniform", chi2)
	}
}

func TestBase62NoModuloBias(t *testing.T) {
	const n = 620000
	counts := map[byte]int{}
	s := Base62(n)
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	// Mean count of the first 8 symbols against the others. With bias they
	// would be ~3.2% higher; the standard error of the difference here is
	// about 0.4%.
	var first, rest float64
	for i := 0; i < 62; i++ {
		if i < 8 {
			first += float64(counts[Base62Alphabet[i]]) / 8
		} else {
			rest += float64(counts[Base62Alphabet[i]]) / 54
		}
	}
	if math.Abs(first/rest-1) > 0.015 {
		t.Fatalf("first symbols appear %.3fx as often as the others", first/rest)
	}
}

func TestBytesDiffer(t *testing.T) {
	a, b := Bytes(32), Bytes(32)
	if len(a) != 32 || string(a) == string(b) {
		t.Fatal("Bytes returned equal or short secrets")
	}
}

func TestUint32Base62RoundTrip(t *testing.T) {
	for _, v := range []uint32{0, 1, 61, 62, 3844, 1<<31 - 1, 1 << 31, math.MaxUint32} {
		s := string(AppendUint32Base62(nil, v))
		if len(s) != Uint32Base62Len {
			t.Fatalf("%d encoded as %q", v, s)
		}
		got, err := ParseUint32Base62(s)
		if err != nil || got != v {
			t.Fatalf("%d → %q → %d, %v", v, s, got, err)
		}
	}
	for _, bad := range []string{"", "00000", "0000000", "zzzzzz", "00000-", "00 000"} {
		if _, err := ParseUint32Base62(bad); err == nil {
			t.Errorf("ParseUint32Base62(%q) accepted", bad)
		}
	}
	if !strings.HasPrefix(string(AppendUint32Base62(nil, 0)), "000000") {
		t.Fatal("zero is not zero-padded")
	}
}

func FuzzParseUint32Base62(f *testing.F) {
	f.Add("000000")
	f.Add("4GFfc3")
	f.Add("zzzzzz")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseUint32Base62(s)
		if err != nil {
			return
		}
		if got := string(AppendUint32Base62(nil, v)); got != s {
			t.Fatalf("%q decoded to %d, which encodes as %q", s, v, got)
		}
	})
}
