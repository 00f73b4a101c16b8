package agent

import (
	"context"

	"github.com/kinetail/kinetail/config"
)

func (m *monitor) cloudWatch(ctx context.Context, cw config.CloudWatch) {
	<-ctx.Done()
}
