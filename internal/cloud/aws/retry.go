package aws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"daestro/internal/cloud"
)

// The retries are the SDK's own standard retryer, bounded and paced by
// WithRetry, limited to throttling (RequestLimitExceeded and the SDK's other
// throttle codes, HTTP 429) as internal/cloud/retry.go describes: a 5xx or a
// network error is tried once and left to the caller's retry policy (the
// activity's), and the waits follow our backoff.

// capacityCodes mean EC2 cannot supply the type where asked. EC2 sends
// InsufficientInstanceCapacity as an HTTP 500, but capacity does not come
// back within seconds: it is ErrCapacity, not ErrUnavailable, so the caller
// tries another type or region at once instead of repeating the call.
var capacityCodes = []string{
	"InsufficientInstanceCapacity",
	"InsufficientHostCapacity",
	"InsufficientReservedInstanceCapacity",
	"InsufficientCapacityOnHost",
	"Unsupported",
}

// newRetryer builds the SDK retryer WithRetry describes. The retry token
// bucket is off (ratelimit.None): attempts are already bounded per call, and
// an emptied bucket would fail later calls at once with an error that says
// nothing useful to a user.
func newRetryer(c config) awssdk.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = c.retry.MaxAttempts
		o.MaxBackoff = c.retry.MaxWait
		o.Backoff = backoff{min: c.retry.MinWait, max: c.retry.MaxWait}
		o.RateLimiter = ratelimit.None
		throttled := retry.IsErrorThrottles(retry.DefaultThrottles)
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) awssdk.Ternary {
			return awssdk.BoolTernary(throttled.IsErrorThrottle(err) == awssdk.TrueTernary)
		})}
	})
}

// backoff waits minWait doubling per attempt up to maxWait, with "equal
// jitter" (half fixed, half random) so clients throttled together do not
// retry together; a Retry-After or x-amz-retry-after header replaces it,
// capped at maxWait.
type backoff struct{ min, max time.Duration }

// BackoffDelay implements retry.BackoffDelayer; attempt is the 1-based
// number of the attempt that failed.
func (b backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	if d, ok := retryAfter(err); ok {
		return min(d, b.max), nil
	}
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d, nil
}

// retryAfter reads the wait the server asked for: Retry-After (seconds or an
// HTTP date) or AWS's x-amz-retry-after (milliseconds). It removes the
// latter from the response because the SDK would otherwise stretch our wait
// towards it by up to 5s beyond maxWait.
func retryAfter(err error) (time.Duration, bool) {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil {
		return 0, false
	}
	h := re.Response.Header
	if v := h.Get("X-Amz-Retry-After"); v != "" {
		h.Del("X-Amz-Retry-After")
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	return cloud.ParseRetryAfter(h)
}

// isCode reports whether err is an EC2 error with one of codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode())
}

// op describes a call for the messages of its errors.
type op struct {
	// what completes "AWS could not …", e.g. "list regions".
	what string
	// action is the EC2 action, for IAM permission hints.
	action string
	// region is where the call acted.
	region string
	// instanceType and name are set for creates.
	instanceType string
	name         string
}

// fail classifies err from the call o; nil stays nil. A cancelled or
// expired ctx wins over anything EC2 said, so callers see the context's
// error as the reason the retries stopped.
func (p *Provider) fail(ctx context.Context, o op, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("aws: %s: %w", o.what, ctx.Err())
	}
	return classify(o, err)
}

// The EC2 error codes by class, from the EC2 API reference's error list.
var (
	authCodes = []string{"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature",
		"MissingAuthenticationToken", "Blocked", "PendingVerification"}
	quotaCodes      = []string{"InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"}
	groupQuotaCodes = []string{"SecurityGroupLimitExceeded", "RulesPerSecurityGroupLimitExceeded"}
)

// deniedRE finds the action an UnauthorizedOperation message names.
var deniedRE = regexp.MustCompile(`perform: (ec2:[A-Za-z0-9]+)`)

// deniedAction is the action the IAM policy lacks: the one EC2's message
// names, which differs from the call's when e.g. tagging on create is
// denied (ec2:CreateTags for a RunInstances), else the call's.
func deniedAction(o op, msg string) string {
	if m := deniedRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return "ec2:" + o.action
}

// classify maps a failed call to a cloud error class with a sentence the
// user can act on.
func classify(o op, err error) error {
	code, msg := "", err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	attempts := 1
	var me *retry.MaxAttemptsError
	if errors.As(err, &me) {
		attempts = me.Attempt
	}
	where := o.region
	switch {
	case slices.Contains(authCodes, code):
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Err: err, Message: fmt.Sprintf(
			"AWS rejected this access key: %s; check the access key id and secret access key (the key must be active under IAM → Users → Security credentials) and update the cloud auth", strings.TrimSuffix(msg, "."))}
	case code == "UnauthorizedOperation":
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Err: err, Message: fmt.Sprintf(
			"AWS did not let this access key %s: its IAM policy does not allow %s; add it to the policy (daestro needs %s and %s)",
			o.what, deniedAction(o, msg), strings.Join(IAMActions[:len(IAMActions)-1], ", "), IAMActions[len(IAMActions)-1])}
	case code == "OptInRequired":
		return &cloud.Error{Kind: cloud.ErrInvalid, Err: err, Message: fmt.Sprintf(
			"AWS region %s is not enabled for this account: enable it under Account → AWS Regions or choose another region", where)}
	case slices.Contains(quotaCodes, code):
		return &cloud.Error{Kind: cloud.ErrQuota, Err: err, Message: fmt.Sprintf(
			"AWS refused to %s because an account limit was reached: %s; raise the limit in Service Quotas → Amazon EC2 (Running On-Demand Standard instances) for %s, or terminate unused instances", o.what, strings.TrimSuffix(msg, "."), where)}
	case slices.Contains(groupQuotaCodes, code):
		return &cloud.Error{Kind: cloud.ErrQuota, Err: err, Message: fmt.Sprintf(
			"AWS refused to %s because an account limit was reached: %s; delete unused security groups in the default VPC of %s or raise the limit in Service Quotas → Amazon Virtual Private Cloud (VPC security groups per Region, Inbound or outbound rules per security group)", o.what, strings.TrimSuffix(msg, "."), where)}
	case slices.Contains(capacityCodes, code):
		return &cloud.Error{Kind: cloud.ErrCapacity, Err: err, Message: fmt.Sprintf(
			"AWS has no capacity for %s in %s right now: %s; try another instance type or region", o.instanceType, where, strings.TrimSuffix(msg, "."))}
	case code == "InvalidInstanceID.NotFound":
		return &cloud.Error{Kind: cloud.ErrNotFound, Err: err, Message: fmt.Sprintf("AWS could not %s: there is no such machine in %s", o.what, where)}
	case code == "InvalidInstanceID.Malformed":
		return &cloud.Error{Kind: cloud.ErrInvalid, Err: err, Message: fmt.Sprintf("AWS could not %s: %s", o.what, msg)}
	case code == "IdempotentParameterMismatch":
		return &cloud.Error{Kind: cloud.ErrInvalid, Err: err, Message: fmt.Sprintf(
			"a machine named %q was already requested in %s with other settings: AWS remembers a name for at least 7 days, so give the new machine a name of its own", o.name, where)}
	case code == "VPCIdNotSpecified":
		return noDefaultVPC(where, err)
	case code == "InvalidGroup.NotFound":
		return &cloud.Error{Kind: cloud.ErrUnavailable, Err: err, Message: fmt.Sprintf(
			"AWS could not %s: its security group was deleted while it started (%s); try again, the next attempt finds or creates the group afresh", o.what, msg)}
	case strings.HasPrefix(code, "InvalidAMIID."):
		return &cloud.Error{Kind: cloud.ErrUnavailable, Err: err, Message: fmt.Sprintf(
			"AWS could not %s: the Ubuntu image is no longer available (%s); try again, the next attempt looks the image up afresh", o.what, msg)}
	case ae == nil || attempts > 1 || status == 0 || status >= 500:
		// No EC2 error (network, unreadable answer), a server error
		// (tried once: the caller's retry policy repeats it), or still
		// throttled after the retries.
		detail := describe(code, status, err)
		if attempts > 1 {
			detail = fmt.Sprintf("%s after %d attempts", detail, attempts)
		}
		m := fmt.Sprintf("AWS did not answer the request to %s (%s): try again later or check https://health.aws.amazon.com/health/status",
			o.what, detail)
		if o.action == "RunInstances" {
			m += "; repeating the request with the same machine name cannot start a second machine"
		}
		return &cloud.Error{Kind: cloud.ErrUnavailable, Err: err, Message: m}
	default:
		return &cloud.Error{Kind: cloud.ErrInvalid, Err: err, Message: fmt.Sprintf("AWS refused to %s: %s (%s)", o.what, strings.TrimSuffix(msg, "."), code)}
	}
}

// describe names a failure briefly: the EC2 code, else the HTTP status,
// else the error.
func describe(code string, status int, err error) string {
	switch {
	case code != "":
		return code
	case status != 0:
		return fmt.Sprintf("HTTP %d", status)
	default:
		return err.Error()
	}
}
