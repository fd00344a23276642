package purge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"
)

// CloudFrontPollInterval is how often a waited-for invalidation is checked
// (the SDK's waiter uses the same minimum).
var CloudFrontPollInterval = 20 * time.Second

// cloudfrontTimeout bounds WaitForCompletion when the context has no
// deadline; CloudFront usually completes within minutes.
const cloudfrontTimeout = 30 * time.Minute

type cloudfrontPurger struct {
	cfg    CDNConfig
	o      options
	client *cloudfront.Client
}

// newCloudFront builds the SDK client. The SDK's own retryer is off:
// retries go through the same policy and clock as the other adapters, and
// TooManyInvalidationsInProgress (which the SDK does not retry) can take
// minutes to clear.
func newCloudFront(cfg CDNConfig, o options) (*cloudfrontPurger, error) {
	region := cfg.Region
	if region == "" {
		region = "us-east-1" // CloudFront is global; its API lives here
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if !o.ownHTTP {
		// A buildable client, so the loader can still apply AWS_CA_BUNDLE.
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		loaders = append(loaders, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)))
	}
	if cfg.AccessKeyID != "" {
		loaders = append(loaders, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey.Reveal(), "")))
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background(), loaders...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	client := cloudfront.NewFromConfig(awsCfg, func(opt *cloudfront.Options) {
		if o.ownHTTP {
			opt.HTTPClient = o.client
		}
		if cfg.BaseURL != "" {
			opt.BaseEndpoint = aws.String(strings.TrimSuffix(cfg.BaseURL, "/"))
		}
	})
	return &cloudfrontPurger{cfg: cfg, o: o, client: client}, nil
}

func (c *cloudfrontPurger) Purge(ctx context.Context, p Plan) (Result, error) {
	res := Result{CDN: c.cfg.Name, Type: CloudFront}
	if err := checkPlan(c.cfg, p); err != nil {
		return res, err
	}
	log := c.o.logger(ctx)
	maxPaths := orDefault(c.cfg.MaxPaths, CloudFrontMaxPaths)
	maxWild := orDefault(c.cfg.MaxWildcards, CloudFrontMaxWildcards)
	for i, b := range p.Batches {
		if b.Action != ActionPaths {
			return res, fmt.Errorf("cannot perform %q", b.Action)
		}
		wild := 0
		for _, s := range b.Items {
			if strings.HasSuffix(s, "*") {
				wild++
			}
		}
		if wild > maxWild || len(b.Items)-wild > maxPaths {
			return res, fmt.Errorf("batch %d has %d paths and %d wildcards, over %d and %d",
				i, len(b.Items)-wild, wild, maxPaths, maxWild)
		}
		ref := p.CallerReference
		if ref == "" {
			ref = fmt.Sprintf("hoist-%d", c.o.clock.Now().UnixNano())
		}
		if len(p.Batches) > 1 {
			ref = fmt.Sprintf("%s-%d", ref, i)
		}
		in := &cloudfront.CreateInvalidationInput{
			DistributionId: aws.String(c.cfg.DistributionID),
			InvalidationBatch: &cftypes.InvalidationBatch{
				CallerReference: aws.String(ref),
				Paths:           &cftypes.Paths{Quantity: aws.Int32(int32(len(b.Items))), Items: b.Items},
			},
		}
		op := fmt.Sprintf("invalidate %d paths", len(b.Items))
		var out *cloudfront.CreateInvalidationOutput
		err := c.retry(ctx, &res, op, func(ctx context.Context) error {
			var err error
			out, err = c.client.CreateInvalidation(ctx, in)
			return err
		})
		if err != nil {
			return res, err
		}
		id := aws.ToString(out.Invalidation.Id)
		res.InvalidationIDs = append(res.InvalidationIDs, id)
		res.Paths += len(b.Items)
		log.Info().Str("cdn", c.cfg.Name).Str("invalidation", id).Int("paths", len(b.Items)).Int("wildcards", wild).
			Str("status", aws.ToString(out.Invalidation.Status)).Msg("cloudfront invalidation created")
	}
	if c.cfg.WaitForCompletion && len(res.InvalidationIDs) > 0 {
		if err := c.wait(ctx, &res); err != nil {
			return res, err
		}
		res.Completed = true
	}
	return res, nil
}

// wait polls GetInvalidation until every invalidation is Completed. It is
// hand-written rather than the SDK's InvalidationCompletedWaiter so that it
// uses the adapter's clock (tests do not sleep) and counts requests.
func (c *cloudfrontPurger) wait(ctx context.Context, res *Result) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cloudfrontTimeout)
		defer cancel()
	}
	for _, id := range res.InvalidationIDs {
		for {
			var out *cloudfront.GetInvalidationOutput
			op := fmt.Sprintf("get invalidation %s", id)
			err := c.retry(ctx, res, op, func(ctx context.Context) error {
				var err error
				out, err = c.client.GetInvalidation(ctx, &cloudfront.GetInvalidationInput{
					DistributionId: aws.String(c.cfg.DistributionID), Id: aws.String(id)})
				return err
			})
			if err != nil {
				return err
			}
			if aws.ToString(out.Invalidation.Status) == "Completed" {
				break
			}
			if err := c.o.clock.Sleep(ctx, CloudFrontPollInterval); err != nil {
				return fmt.Errorf("%s: waiting for completion: %w", op, err)
			}
		}
	}
	return nil
}

// retry runs call under the retry policy: TooManyInvalidationsInProgress,
// throttling, 429/5xx and network errors are retried, honouring a
// Retry-After header.
func (c *cloudfrontPurger) retry(ctx context.Context, res *Result, op string, call func(context.Context) error) error {
	log := c.o.logger(ctx)
	for attempt := 1; ; attempt++ {
		res.Requests++
		err := call(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		wait, ok := cloudfrontRetryable(err, c.o.clock.Now())
		if !ok {
			return fmt.Errorf("%s: %w", op, err)
		}
		if attempt >= c.o.retry.Attempts {
			return fmt.Errorf("%s: after %d attempts: %w", op, attempt, err)
		}
		if wait == 0 {
			wait = c.o.retry.backoff(attempt)
		}
		wait = min(wait, c.o.retry.MaxRetryAfter)
		res.Retries++
		log.Warn().Err(err).Int("attempt", attempt).Dur("wait", wait).Msg("cloudfront request failed; retrying")
		if err := c.o.clock.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
}

func cloudfrontRetryable(err error, now time.Time) (time.Duration, bool) {
	var wait time.Duration
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if d, ok := retryAfter(re.Response.Header, now); ok {
			wait = d
		}
		if retryable(re.HTTPStatusCode()) {
			return wait, true
		}
	}
	var tooMany *cftypes.TooManyInvalidationsInProgress
	if errors.As(err, &tooMany) {
		return wait, true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable":
			return wait, true
		}
		return 0, false
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return 0, true
	}
	return 0, false
}
