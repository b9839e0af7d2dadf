package codec_test

import (
	"testing"

	"github.com/parley-chat/parley/bench/codec"
)

// BenchmarkCodec runs every operation on every case, named Case/op; the
// bytes/msg metric is the encoded size for that codec.
func BenchmarkCodec(b *testing.B) {
	for _, c := range codec.Cases() {
		for _, op := range codec.Ops {
			b.Run(c.Name+"/"+string(op), func(b *testing.B) { codec.Bench(b, c, op) })
		}
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	for _, c := range codec.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			p, j, err := codec.Sizes(c.Msg)
			if err != nil {
				t.Fatal(err)
			}
			if p == 0 || j <= p {
				t.Fatalf("proto %d B, json %d B: want 0 < proto < json", p, j)
			}
			t.Logf("proto %d B, protojson %d B", p, j)
		})
	}
}
