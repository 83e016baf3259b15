package vultr

import (
	"errors"
	"testing"

	"daestro/internal/cloud"
)

// TestClassify pins how Vultr's status-less errors are sorted, from the
// status and message the transport recorded. The messages are ones the
// real API has been seen to send, or close to them.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		msg    string
		want   error
	}{
		{401, "Invalid API token.", cloud.ErrUnauthorized},
		{403, "Unauthorized IP address: 198.51.100.7", cloud.ErrUnauthorized},
		{404, "Invalid instance-id.", cloud.ErrNotFound},
		{400, "Server add failed: You have reached the maximum number of active virtual machines for this account. For security reasons, please contact our support team to have the limit raised", cloud.ErrQuota},
		{400, "Server add failed: You have exceeded the instance limit of 5 for this account.", cloud.ErrQuota},
		{412, "You have reached the maximum monthly fee limit for this account.", cloud.ErrQuota},
		{400, "Plan is not available in the selected location.", cloud.ErrCapacity},
		{400, "Server add failed: Plan vc2-2c-4gb is currently not available in this location.", cloud.ErrCapacity},
		{400, "Label exceeds the character limit.", cloud.ErrInvalid},
		{400, "Invalid plan.", cloud.ErrInvalid},
		{422, "", cloud.ErrInvalid},
		{500, "Internal server error.", cloud.ErrUnavailable},
		{0, "", cloud.ErrUnavailable},
	} {
		err := classify("create the instance", &exchange{status: tc.status, message: tc.msg}, errors.New("error returned from api : "+tc.msg))
		if !errors.Is(err, tc.want) {
			t.Errorf("HTTP %d %q: got %v, want %v", tc.status, tc.msg, err, tc.want)
		}
	}
}
