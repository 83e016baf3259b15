// Package ec2fake is a stateful fake of the Amazon EC2 API for tests. It
// speaks the EC2 Query protocol the official SDK uses (POST / form-encoded,
// Action=…&Version=2016-11-15, XML answers), keeps instances per region in
// memory and can inject the failures a real account shows: throttling
// (RequestLimitExceeded), server errors, InsufficientInstanceCapacity,
// instance and vCPU limits, rejected keys and slow responses.
//
// The request signature is not verified, but the Authorization header must
// be there and name the configured access key id, and the region of its
// credential scope picks the region the call acts in, as the endpoint does
// on EC2.
//
// An instance is "pending" in the RunInstances answer and the first
// DescribeInstances that shows it, "running" with a public IPv4 afterwards
// (see WithRunningAfterDescribes and WithRunningAfter). TerminateInstances
// answers "shutting-down", the next DescribeInstances too, "terminated"
// afterwards; a terminated instance stays listed for an hour like on EC2
// (WithTerminatedVisibleFor). A RunInstances repeated with the same
// ClientToken returns the instance of the first one instead of starting
// another.
//
// Every region has a default VPC with EC2's "default" security group, and
// the security group calls a launch needs (DescribeVpcs,
// DescribeSecurityGroups, CreateSecurityGroup, AuthorizeSecurityGroupIngress,
// DeleteSecurityGroup) keep groups and their rules with EC2's errors:
// InvalidGroup.Duplicate for a name taken in the VPC,
// InvalidPermission.Duplicate for a rule that exists, InvalidGroup.NotFound
// for an unknown id, DependencyViolation for a group in use. RunInstances
// attaches the groups of SecurityGroupId.N, or the default group when none
// is given; see securitygroups.go.
package ec2fake

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials the fake accepts unless WithAccessKeyID says otherwise. The
// secret is not checked; it is here so tests need no literal of their own.
const (
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// OwnerID is the account id of the fake account, the one AccessKeyID
// belongs to. AddAccessKey adds keys of it or of other accounts: every
// instance belongs to the account whose key launched it and is seen only
// with that account's keys (another account's get EC2's
// InvalidInstanceID.NotFound), as GetCallerIdentity tells them apart.
// (Security groups and VPCs are shared by all accounts of the fake.)
const OwnerID = "111122223333"

// APIVersion is the only EC2 API version the fake answers.
const APIVersion = "2016-11-15"

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint to hand to the SDK as its BaseEndpoint.
	URL string

	// srv serves the handler.
	srv *httptest.Server

	// mu guards everything below; handlers run concurrently.
	mu sync.Mutex
	// accessKeyID is AccessKeyID, or WithAccessKeyID's.
	accessKeyID string
	// keys maps every accepted access key id to its account's id.
	keys map[string]string
	// runningAfterDescribes is how many DescribeInstances show a new
	// instance pending before it runs.
	runningAfterDescribes int
	// runningAfter, when set, replaces runningAfterDescribes with a delay
	// since launch.
	runningAfter time.Duration
	// terminatedVisibleFor is how long terminated instances stay listed.
	terminatedVisibleFor time.Duration
	// hiddenCalls is how many calls naming a new instance by id answer
	// InvalidInstanceID.NotFound, EC2's eventual consistency.
	hiddenCalls int
	// vcpuLimit is the account's running on-demand vCPU limit per region, 0
	// for none.
	vcpuLimit int
	// pageSize caps every page of DescribeInstances and
	// DescribeInstanceTypes, 0 for no cap beyond MaxResults.
	pageSize int
	// ipv6 gives running instances an IPv6 address.
	ipv6 bool
	// latency delays every response.
	latency time.Duration
	// denied are actions the key's IAM policy does not allow.
	denied map[string]bool
	// seq numbers instances, reservations, addresses and requests.
	seq int
	// instances in launch order, all regions.
	instances []*instance
	// tokens maps region + "\x00" + ClientToken to the instance it started.
	tokens map[string]*instance
	// runs records RunInstances requests for assertions.
	runs []RunBody
	// injects are the failures to answer the next matching calls with.
	injects []inject
	// calls records the Action of every request.
	calls []string
	// noDefaultVPC leaves the regions without a default VPC.
	noDefaultVPC bool
	// vpcs are the VPCs of all regions.
	vpcs []*vpc
	// groups are the security groups of all regions, in creation order.
	groups []*group
}

// Tag is an EC2 tag.
type Tag struct {
	// Key is the tag's key, e.g. "Name".
	Key string
	// Value is the tag's value, possibly empty.
	Value string
}

// RunBody is a RunInstances request as the fake received it.
type RunBody struct {
	// Region is the region of the request's credential scope.
	Region string
	// ImageID, InstanceType, ClientToken and KeyName are the parameters of
	// the same names.
	ImageID      string
	InstanceType string
	ClientToken  string
	KeyName      string
	// MinCount and MaxCount are the requested instance counts.
	MinCount int
	MaxCount int
	// UserData is the user data, base64-decoded.
	UserData string
	// UserDataBase64 is the user data as sent.
	UserDataBase64 string
	// Tags are the tags of the "instance" tag specification, in order.
	Tags []Tag
	// ShutdownBehavior is InstanceInitiatedShutdownBehavior.
	ShutdownBehavior string
	// MetadataHTTPTokens and MetadataHopLimit are MetadataOptions.HttpTokens
	// ("required" = IMDSv2 only) and MetadataOptions.HttpPutResponseHopLimit.
	MetadataHTTPTokens string
	MetadataHopLimit   string
	// SecurityGroupIDs and SecurityGroupNames are the groups asked for
	// (SecurityGroupId.N, SecurityGroup.N), in order; both empty means the
	// default VPC's default group.
	SecurityGroupIDs   []string
	SecurityGroupNames []string
}

// instance is one instance of the fake account.
type instance struct {
	// account is the id of the account whose key launched it.
	account string
	// id and reservationID are EC2's identifiers, i-… and r-….
	id            string
	reservationID string
	// region and zone are where it runs.
	region string
	zone   string
	// instanceType, imageID and arch are what it runs.
	instanceType string
	imageID      string
	arch         string
	// clientToken, userData and tags are as launched.
	clientToken string
	userData    string
	tags        []Tag
	// requestedGroups are the SecurityGroupId.N of the launch, for the
	// ClientToken check; groupIDs the groups it got.
	requestedGroups []string
	groupIDs        []string
	// launched is the launch time.
	launched time.Time
	// privateIP, publicIP and ipv6 are its addresses; the public ones show
	// while it runs.
	privateIP string
	publicIP  string
	ipv6      string
	// pendingShown counts the describes that showed it pending.
	pendingShown int
	// terminated is set by TerminateInstances, at terminatedAt.
	terminated   bool
	terminatedAt time.Time
	// shuttingShown counts the describes that showed it shutting down.
	shuttingShown int
	// hidden is how many more calls by id will not find it yet.
	hidden int
}

// inject is a failure to answer a call with.
type inject struct {
	// action limits the failure to one Action, "" for any.
	action string
	// status, code and message make the error answer; message may quote
	// the request.
	status  int
	code    string
	message func(*request) string
	// retryAfter, when positive, is sent as x-amz-retry-after.
	retryAfter time.Duration
	// lose makes the call take effect before failing, as when the answer
	// is lost on the way back.
	lose bool
}

// Option configures a Server.
type Option func(*Server)

// WithAccessKeyID sets the accepted access key id.
func WithAccessKeyID(id string) Option { return func(s *Server) { s.accessKeyID = id } }

// WithRunningAfterDescribes makes a new instance show as pending in the
// first n DescribeInstances answers that include it, running afterwards. The
// default is 1; 0 makes it running at its first describe.
func WithRunningAfterDescribes(n int) Option {
	return func(s *Server) { s.runningAfterDescribes = n }
}

// WithRunningAfter makes instances run once d has passed since launch,
// however often they were described.
func WithRunningAfter(d time.Duration) Option { return func(s *Server) { s.runningAfter = d } }

// WithTerminatedVisibleFor sets how long a terminated instance stays listed
// (an hour by default, as on EC2); afterwards calls naming it answer
// InvalidInstanceID.NotFound.
func WithTerminatedVisibleFor(d time.Duration) Option {
	return func(s *Server) { s.terminatedVisibleFor = d }
}

// WithEventualConsistency makes the first n DescribeInstances or
// TerminateInstances calls naming a new instance by id answer
// InvalidInstanceID.NotFound, as EC2 can right after RunInstances.
func WithEventualConsistency(n int) Option { return func(s *Server) { s.hiddenCalls = n } }

// WithVCPULimit makes RunInstances fail with VcpuLimitExceeded when the live
// instances of the region would use more than n vCPUs.
func WithVCPULimit(n int) Option { return func(s *Server) { s.vcpuLimit = n } }

// WithPageSize caps every DescribeInstances and DescribeInstanceTypes page
// at n items, so tests exercise pagination with a handful of items.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// WithIPv6 gives running instances a public IPv6 address on their network
// interface, as in a dual-stack subnet.
func WithIPv6() Option { return func(s *Server) { s.ipv6 = true } }

// New starts a fake and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		accessKeyID:           AccessKeyID,
		keys:                  map[string]string{},
		runningAfterDescribes: 1,
		terminatedVisibleFor:  time.Hour,
		denied:                map[string]bool{},
		tokens:                map[string]*instance{},
	}
	for _, o := range opts {
		o(s)
	}
	s.keys[s.accessKeyID] = OwnerID
	if !s.noDefaultVPC {
		s.addDefaultVPCs()
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// AddAccessKey makes keyID an access key of account (a 12-digit id):
// another key of OwnerID, or the key of another account. Secrets are not
// checked.
func (s *Server) AddAccessKey(keyID, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[keyID] = account
}

// Inject makes the next n calls of action ("" for any action) fail with an
// EC2 error of code and message under HTTP status.
func (s *Server) Inject(action string, n, status int, code, message string) {
	s.add(n, inject{action: action, status: status, code: code, message: func(*request) string { return message }})
}

// Throttle makes the next n calls answer 503 RequestLimitExceeded, EC2's
// throttling error.
func (s *Server) Throttle(n int) { s.ThrottleWithRetryAfter(n, 0) }

// ThrottleWithRetryAfter is Throttle with an x-amz-retry-after header of d
// (in milliseconds, as AWS sends it) when d is positive.
func (s *Server) ThrottleWithRetryAfter(n int, d time.Duration) {
	s.add(n, inject{status: http.StatusServiceUnavailable, code: "RequestLimitExceeded", retryAfter: d,
		message: func(*request) string { return "Request limit exceeded." }})
}

// FailServer makes the next n calls answer 500 InternalError.
func (s *Server) FailServer(n int) {
	s.Inject("", n, http.StatusInternalServerError, "InternalError",
		"An internal error has occurred. Please try again later.")
}

// NoCapacity makes the next n RunInstances answer 500
// InsufficientInstanceCapacity, which EC2 sends when the type is sold out in
// the zone.
func (s *Server) NoCapacity(n int) {
	s.add(n, inject{action: "RunInstances", status: http.StatusInternalServerError, code: "InsufficientInstanceCapacity",
		message: func(r *request) string {
			t := r.form.Get("InstanceType")
			return fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%sa). "+
				"Our system will be working on provisioning additional capacity. You can currently get %s capacity by not "+
				"specifying an Availability Zone in your request or choosing %sb, %sc.", t, r.region, t, r.region, r.region)
		}})
}

// InstanceLimitExceeded makes the next n RunInstances answer 400
// InstanceLimitExceeded.
func (s *Server) InstanceLimitExceeded(n int) {
	s.add(n, inject{action: "RunInstances", status: http.StatusBadRequest, code: "InstanceLimitExceeded",
		message: func(r *request) string {
			return fmt.Sprintf("Your quota allows for 0 more running instance(s). You requested at least 1. "+
				"You can request an increase of the InstanceLimit quota for %s.", r.region)
		}})
}

// VcpuLimitExceeded makes the next n RunInstances answer 400
// VcpuLimitExceeded; WithVCPULimit produces the same error from state.
func (s *Server) VcpuLimitExceeded(n int) {
	s.add(n, inject{action: "RunInstances", status: http.StatusBadRequest, code: "VcpuLimitExceeded",
		message: func(*request) string { return vcpuLimitMessage(32) }})
}

// LoseAnswers makes the next n calls of action take effect and then answer
// 500 InternalError, as when an answer is lost on the way: the client cannot
// tell whether the call happened.
func (s *Server) LoseAnswers(action string, n int) {
	s.add(n, inject{action: action, status: http.StatusInternalServerError, code: "InternalError", lose: true,
		message: func(*request) string { return "An internal error has occurred. Please try again later." }})
}

// FailAuth makes the next n calls answer 401 AuthFailure as if the key were
// wrong.
func (s *Server) FailAuth(n int) {
	s.Inject("", n, http.StatusUnauthorized, "AuthFailure", authFailureMessage)
}

// Deny makes every later call of action answer 403 UnauthorizedOperation,
// as when the key's IAM policy does not allow it.
func (s *Server) Deny(action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[action] = true
}

// SetLatency delays every response by d, for timeout and cancellation tests.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) add(n int, in inject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.injects = append(s.injects, in)
	}
}

// Calls returns the Action of every request received, injected failures
// included, so tests can count attempts.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Runs returns the RunInstances requests received, in order.
func (s *Server) Runs() []RunBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// Instances returns the number of instances that are not terminated, across
// regions.
func (s *Server) Instances() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, in := range s.instances {
		if !in.terminated {
			n++
		}
	}
	return n
}

const authFailureMessage = "AWS was not able to validate the provided access credentials"

func vcpuLimitMessage(limit int) string {
	return fmt.Sprintf("You have requested more vCPU capacity than your current vCPU limit of %d allows for the "+
		"instance bucket that the specified instance type belongs to. Please visit "+
		"http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.", limit)
}

// request is one parsed API call.
type request struct {
	action string
	// region comes from the credential scope of the Authorization header.
	region string
	form   url.Values
	// id is the request id of the answer.
	id string
	// accessKeyID and account are the signing key and its account.
	accessKeyID, account string
}

// apiError is an EC2 error answer: HTTP status, EC2 error code, message.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

// credentialRE picks the access key id and region out of a SigV4
// Authorization header.
var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/([^/,\s]+)/`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, &request{id: "bad"}, errorf(http.StatusBadRequest, "MalformedQueryString", "%v", err))
		return
	}
	req := &request{action: r.PostForm.Get("Action"), form: r.PostForm}

	s.mu.Lock()
	s.seq++
	req.id = fmt.Sprintf("f1a3c0de-0000-4000-8000-%012d", s.seq)
	s.calls = append(s.calls, req.action)
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var lost *inject
	if i := slices.IndexFunc(s.injects, func(in inject) bool { return in.action == "" || in.action == req.action }); i >= 0 {
		in := s.injects[i]
		s.injects = slices.Delete(s.injects, i, i+1)
		if !in.lose {
			if in.retryAfter > 0 {
				w.Header().Set("X-Amz-Retry-After", strconv.FormatInt(in.retryAfter.Milliseconds(), 10))
			}
			req.region = "us-east-1"
			if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
				req.region = m[2]
			}
			s.writeError(w, req, &apiError{status: in.status, code: in.code, message: in.message(req)})
			return
		}
		lost = &in
	}

	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || s.keys[m[1]] == "" {
		s.writeError(w, req, errorf(http.StatusUnauthorized, "AuthFailure", authFailureMessage))
		return
	}
	req.region, req.accessKeyID, req.account = m[2], m[1], s.keys[m[1]]
	if _, ok := findRegion(req.region); !ok {
		// EC2 has no endpoint for a region that does not exist; the SDK
		// fails to resolve the host. The fake answers what the closest real
		// case, a region not enabled for the account, answers.
		s.writeError(w, req, errorf(http.StatusUnauthorized, "AuthFailure", authFailureMessage))
		return
	}
	if v := req.form.Get("Version"); v != APIVersion && (req.action != actionGetCallerIdentity || v != STSAPIVersion) {
		s.writeError(w, req, errorf(http.StatusBadRequest, "NoSuchVersion", "An invalid API version was specified: %q", v))
		return
	}
	if s.denied[req.action] {
		s.writeError(w, req, errorf(http.StatusForbidden, "UnauthorizedOperation",
			"You are not authorized to perform this operation. User: arn:aws:iam::%s:user/daestro is not authorized to perform: ec2:%s because no identity-based policy allows the ec2:%s action.",
			req.account, req.action, req.action))
		return
	}
	s.purge()

	var (
		body any
		err  *apiError
	)
	switch req.action {
	case actionGetCallerIdentity:
		body, err = s.getCallerIdentity(req)
	case "DescribeRegions":
		body, err = s.describeRegions(req)
	case "DescribeInstanceTypes":
		body, err = s.describeInstanceTypes(req)
	case "DescribeImages":
		body, err = s.describeImages(req)
	case "RunInstances":
		body, err = s.runInstances(req)
	case "DescribeInstances":
		body, err = s.describeInstances(req)
	case "TerminateInstances":
		body, err = s.terminateInstances(req)
	case "DescribeVpcs":
		body, err = s.describeVpcs(req)
	case "DescribeSecurityGroups":
		body, err = s.describeSecurityGroups(req)
	case "CreateSecurityGroup":
		body, err = s.createSecurityGroup(req)
	case "AuthorizeSecurityGroupIngress":
		body, err = s.authorizeSecurityGroupIngress(req)
	case "DeleteSecurityGroup":
		body, err = s.deleteSecurityGroup(req)
	default:
		err = errorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", req.action)
	}
	if err != nil {
		s.writeError(w, req, err)
		return
	}
	if lost != nil {
		s.writeError(w, req, &apiError{status: lost.status, code: lost.code, message: lost.message(req)})
		return
	}
	writeXML(w, http.StatusOK, body)
}

func writeXML(w http.ResponseWriter, status int, body any) {
	out, err := xml.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func (s *Server) writeError(w http.ResponseWriter, req *request, e *apiError) {
	if req.action == actionGetCallerIdentity {
		writeSTSError(w, req, e)
		return
	}
	writeXML(w, e.status, xmlError{Code: e.code, Message: e.message, RequestID: req.id})
}

// purge forgets instances terminated longer ago than terminatedVisibleFor.
// Their client tokens stay, as EC2 remembers a launch for days.
func (s *Server) purge() {
	s.instances = slices.DeleteFunc(s.instances, func(in *instance) bool {
		return in.terminated && time.Since(in.terminatedAt) >= s.terminatedVisibleFor
	})
}

func (s *Server) describeRegions(req *request) (any, *apiError) {
	want := list(req.form, "RegionName")
	out := xmlRegions{Xmlns: xmlns, RequestID: req.id}
	for _, r := range regions {
		if len(want) > 0 && !slices.Contains(want, r.name) {
			continue
		}
		out.Regions = append(out.Regions, xmlRegion{Name: r.name, Endpoint: "ec2." + r.name + ".amazonaws.com", OptInStatus: "opt-in-not-required"})
	}
	return out, nil
}

func (s *Server) describeInstanceTypes(req *request) (any, *apiError) {
	reg, _ := findRegion(req.region)
	filters, err := parseFilters(req.form, "instance-type", "processor-info.supported-architecture",
		"supported-usage-class", "current-generation", "burstable-performance-supported")
	if err != nil {
		return nil, err
	}
	names := list(req.form, "InstanceType")
	var missing []string
	for _, n := range names {
		if !slices.Contains(reg.types, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceType",
			"The following supplied instance types do not exist: [%s]", strings.Join(missing, ", "))
	}
	var all []xmlInstanceType
	for _, name := range reg.types {
		t, _ := findType(name)
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		values := map[string][]string{
			"instance-type":                         {t.name},
			"processor-info.supported-architecture": {t.arch},
			"supported-usage-class":                 t.usage,
			"current-generation":                    {strconv.FormatBool(t.currentGen)},
			"burstable-performance-supported":       {strconv.FormatBool(t.burstable)},
		}
		if !filters.match(values) {
			continue
		}
		all = append(all, xmlInstanceType{
			InstanceType: t.name, CurrentGeneration: t.currentGen, Burstable: t.burstable,
			UsageClasses: t.usage, Architectures: []string{t.arch}, DefaultVCpus: t.vcpu, SizeInMiB: t.memoryMiB,
		})
	}
	page, next, err := s.paginate(req, len(all), 5, 100)
	if err != nil {
		return nil, err
	}
	return xmlInstanceTypes{Xmlns: xmlns, RequestID: req.id, Types: all[page.from:page.to], NextToken: next}, nil
}

func (s *Server) describeImages(req *request) (any, *apiError) {
	filters, err := parseFilters(req.form, "name", "architecture", "state", "owner-id", "image-id")
	if err != nil {
		return nil, err
	}
	owners := list(req.form, "Owner")
	for i, o := range owners {
		if o == "self" {
			owners[i] = req.account
		}
	}
	ids := list(req.form, "ImageId")
	out := xmlImages{Xmlns: xmlns, RequestID: req.id}
	for _, im := range images {
		id := ImageID(req.region, im.name)
		if len(owners) > 0 && !slices.Contains(owners, im.owner) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		values := map[string][]string{
			"name": {im.name}, "architecture": {im.arch}, "state": {"available"}, "owner-id": {im.owner}, "image-id": {id},
		}
		if !filters.match(values) {
			continue
		}
		out.Images = append(out.Images, xmlImage{
			ImageID: id, Location: im.owner + "/" + im.name, State: "available", OwnerID: im.owner,
			CreationDate: im.created, IsPublic: true, Architecture: im.arch, ImageType: "machine", Name: im.name, RootDevice: "ebs",
		})
	}
	return out, nil
}

func (s *Server) runInstances(req *request) (any, *apiError) {
	f := req.form
	body := RunBody{
		Region: req.region, ImageID: f.Get("ImageId"), InstanceType: f.Get("InstanceType"),
		ClientToken: f.Get("ClientToken"), KeyName: f.Get("KeyName"), UserDataBase64: f.Get("UserData"),
		ShutdownBehavior:   f.Get("InstanceInitiatedShutdownBehavior"),
		MetadataHTTPTokens: f.Get("MetadataOptions.HttpTokens"), MetadataHopLimit: f.Get("MetadataOptions.HttpPutResponseHopLimit"),
		SecurityGroupIDs: list(f, "SecurityGroupId"), SecurityGroupNames: list(f, "SecurityGroup"),
	}
	body.MinCount, _ = strconv.Atoi(f.Get("MinCount"))
	body.MaxCount, _ = strconv.Atoi(f.Get("MaxCount"))
	userData, decodeErr := base64.StdEncoding.DecodeString(body.UserDataBase64)
	body.UserData = string(userData)
	tags, tagErr := tagSpecification(f, "instance")
	body.Tags = tags
	s.runs = append(s.runs, body)

	if body.MinCount != 1 || body.MaxCount != 1 {
		return nil, invalidParameter("ec2fake launches exactly one instance per call: MinCount=%q MaxCount=%q", f.Get("MinCount"), f.Get("MaxCount"))
	}
	if len(body.ClientToken) > 64 {
		return nil, invalidParameter("Value (%s) for parameter clientToken is invalid. Length must be at most 64.", body.ClientToken)
	}
	if prev, ok := s.tokens[req.account+"\x00"+req.region+"\x00"+body.ClientToken]; ok && body.ClientToken != "" {
		if prev.imageID != body.ImageID || prev.instanceType != body.InstanceType || prev.userData != body.UserData ||
			!slices.Equal(prev.tags, body.Tags) || !slices.Equal(prev.requestedGroups, body.SecurityGroupIDs) {
			return nil, errorf(http.StatusBadRequest, "IdempotentParameterMismatch",
				"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		}
		return s.runAnswer(req, prev), nil
	}
	if !strings.HasPrefix(body.ImageID, "ami-") {
		return nil, errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", body.ImageID)
	}
	im, ok := findImage(req.region, body.ImageID)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", body.ImageID)
	}
	t, ok := findType(body.InstanceType)
	if !ok {
		return nil, invalidParameter("Invalid value '%s' for InstanceType.", body.InstanceType)
	}
	if reg, _ := findRegion(req.region); !slices.Contains(reg.types, t.name) {
		return nil, errorf(http.StatusBadRequest, "Unsupported",
			"The requested configuration is currently not supported. Please check the documentation for supported configurations.")
	}
	if t.arch != im.arch {
		return nil, invalidParameter("The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. "+
			"Specify an instance type and an AMI that have matching architectures, and try again.", t.arch, im.arch)
	}
	if decodeErr != nil {
		return nil, invalidParameter("Invalid BASE64 encoding of user data.")
	}
	if len(userData) > 16384 {
		return nil, invalidParameter("User data is limited to 16384 bytes")
	}
	if tagErr != nil {
		return nil, tagErr
	}
	groupIDs, err := s.launchGroups(req.region, f)
	if err != nil {
		return nil, err
	}
	if s.vcpuLimit > 0 {
		used := t.vcpu
		for _, in := range s.instances {
			if in.account == req.account && in.region == req.region && !in.terminated {
				it, _ := findType(in.instanceType)
				used += it.vcpu
			}
		}
		if used > s.vcpuLimit {
			return nil, errorf(http.StatusBadRequest, "VcpuLimitExceeded", "%s", vcpuLimitMessage(s.vcpuLimit))
		}
	}

	s.seq++
	n := s.seq
	in := &instance{
		account:       req.account,
		id:            fmt.Sprintf("i-%017x", 0xabc0000000000000+uint64(n)),
		reservationID: fmt.Sprintf("r-%017x", 0xdef0000000000000+uint64(n)),
		region:        req.region, zone: req.region + "a", instanceType: t.name, imageID: body.ImageID, arch: t.arch,
		clientToken: body.ClientToken, userData: body.UserData, tags: body.Tags,
		requestedGroups: body.SecurityGroupIDs, groupIDs: groupIDs,
		launched:  time.Now().UTC(),
		privateIP: fmt.Sprintf("172.31.%d.%d", n/250%250, n%250+1),
		publicIP:  fmt.Sprintf("203.0.113.%d", n%250+1),
		hidden:    s.hiddenCalls,
	}
	if s.ipv6 {
		in.ipv6 = fmt.Sprintf("2001:db8:1234::%x", n)
	}
	s.instances = append(s.instances, in)
	if body.ClientToken != "" {
		s.tokens[req.account+"\x00"+req.region+"\x00"+body.ClientToken] = in
	}
	return s.runAnswer(req, in), nil
}

// runAnswer is RunInstances' answer for in, which does not count as a
// describe.
func (s *Server) runAnswer(req *request, in *instance) xmlRunInstances {
	return xmlRunInstances{Xmlns: xmlns, RequestID: req.id, xmlReservation: xmlReservation{
		ReservationID: in.reservationID, OwnerID: in.account, Instances: []xmlInstance{s.render(in, s.state(in))},
	}}
}

// tagSpecification returns the tags of the TagSpecification.N for
// resourceType, refusing other resource types unless they are in allowed
// (nil allows any, as RunInstances tags volumes and interfaces too).
func tagSpecification(f url.Values, resourceType string, allowed ...string) ([]Tag, *apiError) {
	var tags []Tag
	for i := 1; ; i++ {
		p := fmt.Sprintf("TagSpecification.%d.", i)
		rt := f.Get(p + "ResourceType")
		if rt == "" {
			return tags, nil
		}
		if allowed != nil && !slices.Contains(allowed, rt) {
			return nil, invalidParameter("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		if rt != resourceType {
			continue
		}
		for j := 1; ; j++ {
			k, ok := f[fmt.Sprintf("%sTag.%d.Key", p, j)]
			if !ok {
				break
			}
			t := Tag{Key: k[0], Value: f.Get(fmt.Sprintf("%sTag.%d.Value", p, j))}
			switch {
			case t.Key == "" || len(t.Key) > 128:
				return nil, invalidParameter("Tag key must be between 1 and 128 characters: %q", t.Key)
			case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
				return nil, invalidParameter("Tag keys starting with 'aws:' are reserved for internal use")
			case slices.ContainsFunc(tags, func(o Tag) bool { return o.Key == t.Key }):
				return nil, invalidParameter("Duplicate tag key '%s' specified.", t.Key)
			}
			tags = append(tags, t)
		}
	}
}

// state is the instance's state now, without counting a describe.
func (s *Server) state(in *instance) xmlState {
	switch {
	case in.terminated && in.shuttingShown == 0:
		return xmlState{Code: 32, Name: "shutting-down"}
	case in.terminated:
		return xmlState{Code: 48, Name: "terminated"}
	case s.runningAfter > 0 && time.Since(in.launched) >= s.runningAfter,
		s.runningAfter == 0 && in.pendingShown >= s.runningAfterDescribes:
		return xmlState{Code: 16, Name: "running"}
	default:
		return xmlState{Code: 0, Name: "pending"}
	}
}

// render is the instance's XML in state st. Addresses appear once it runs
// and go away when it terminates.
func (s *Server) render(in *instance, st xmlState) xmlInstance {
	x := xmlInstance{
		InstanceID: in.id, ImageID: in.imageID, State: st, InstanceType: in.instanceType,
		LaunchTime: in.launched.Format("2006-01-02T15:04:05.000Z"), AvailabilityZone: in.zone,
		ClientToken: in.clientToken, Architecture: in.arch, Groups: s.groupRefs(in.region, in.groupIDs),
	}
	for _, t := range in.tags {
		x.Tags = append(x.Tags, xmlTag(t))
	}
	if st.Name == "terminated" {
		return x
	}
	x.PrivateIPAddress = in.privateIP
	x.VpcID = DefaultVPCID(in.region)
	x.SubnetID = "subnet-" + x.VpcID[4:]
	ni := xmlNetworkInterface{NetworkInterfaceID: "eni-" + in.id[2:], PrivateIPAddress: in.privateIP, Groups: x.Groups}
	if st.Name == "running" {
		x.IPAddress = in.publicIP
		if in.ipv6 != "" {
			ni.IPv6Addresses = []xmlIP6{{Address: in.ipv6, IsPrimary: true}}
		}
	}
	x.NetworkInterfaces = []xmlNetworkInterface{ni}
	return x
}

// instanceIDRE is the shape of an instance id: i- and 8 or 17 hex digits.
var instanceIDRE = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// byID returns the instances of region named by ids, or the error EC2 gives
// for malformed or unknown ids. Instances still hidden by eventual
// consistency count as unknown, and the call uses up one of their hidden
// calls.
func (s *Server) byID(account, region string, ids []string) ([]*instance, *apiError) {
	var out []*instance
	var missing []string
	for _, id := range ids {
		if !instanceIDRE.MatchString(id) {
			return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.Malformed", "Invalid id: %q", id)
		}
		i := slices.IndexFunc(s.instances, func(in *instance) bool { return in.id == id && in.region == region && in.account == account })
		if i < 0 {
			missing = append(missing, id)
			continue
		}
		if in := s.instances[i]; in.hidden > 0 {
			in.hidden--
			missing = append(missing, id)
			continue
		}
		out = append(out, s.instances[i])
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
}

func (s *Server) describeInstances(req *request) (any, *apiError) {
	filters, err := parseFilters(req.form, "instance-id", "instance-state-name", "instance-state-code", "instance-type", "tag-key", "tag:*")
	if err != nil {
		return nil, err
	}
	ids := list(req.form, "InstanceId")
	if len(ids) > 0 && req.form.Get("MaxResults") != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	candidates := []*instance{}
	if len(ids) > 0 {
		if candidates, err = s.byID(req.account, req.region, ids); err != nil {
			return nil, err
		}
	} else {
		for _, in := range s.instances {
			if in.region == req.region && in.account == req.account {
				candidates = append(candidates, in)
			}
		}
	}
	type shown struct {
		in *instance
		st xmlState
	}
	var matched []shown
	for _, in := range candidates {
		st := s.state(in)
		values := map[string][]string{
			"instance-id": {in.id}, "instance-state-name": {st.Name}, "instance-state-code": {strconv.Itoa(st.Code)},
			"instance-type": {in.instanceType},
		}
		for _, t := range in.tags {
			values["tag-key"] = append(values["tag-key"], t.Key)
			values["tag:"+t.Key] = []string{t.Value}
		}
		if filters.match(values) {
			matched = append(matched, shown{in, st})
		}
	}
	page, next, err := s.paginate(req, len(matched), 5, 1000)
	if err != nil {
		return nil, err
	}
	out := xmlDescribeInstances{Xmlns: xmlns, RequestID: req.id, NextToken: next}
	for _, m := range matched[page.from:page.to] {
		switch m.st.Name {
		case "pending":
			m.in.pendingShown++
		case "shutting-down":
			m.in.shuttingShown++
		}
		out.Reservations = append(out.Reservations, xmlReservation{
			ReservationID: m.in.reservationID, OwnerID: m.in.account, Instances: []xmlInstance{s.render(m.in, m.st)},
		})
	}
	return out, nil
}

func (s *Server) terminateInstances(req *request) (any, *apiError) {
	ids := list(req.form, "InstanceId")
	if len(ids) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	found, err := s.byID(req.account, req.region, ids)
	if err != nil {
		return nil, err
	}
	out := xmlTerminateInstances{Xmlns: xmlns, RequestID: req.id}
	for _, in := range found {
		prev := s.state(in)
		if !in.terminated {
			in.terminated, in.terminatedAt = true, time.Now()
		}
		out.Changes = append(out.Changes, xmlInstanceChange{InstanceID: in.id, CurrentState: s.state(in), PreviousState: prev})
	}
	return out, nil
}

// window is the slice of a listing one page covers.
type window struct{ from, to int }

// paginate reads MaxResults and NextToken for a listing of n items. The
// token is the offset of the page; EC2's are opaque, and so should callers
// treat these.
func (s *Server) paginate(req *request, n, minResults, maxResults int) (window, string, *apiError) {
	size := n
	if v := req.form.Get("MaxResults"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < minResults || m > maxResults {
			return window{}, "", invalidParameter("Value ( %s ) for parameter maxResults is invalid. Expecting a value between %d and %d.", v, minResults, maxResults)
		}
		size = m
	}
	if s.pageSize > 0 {
		size = min(size, s.pageSize)
	}
	from := 0
	if t := req.form.Get("NextToken"); t != "" {
		off, err := strconv.Atoi(strings.TrimPrefix(t, "ec2fake-"))
		if err != nil || off < 0 || off > n {
			return window{}, "", errorf(http.StatusBadRequest, "InvalidNextToken", "The specified NextToken is not valid.")
		}
		from = off
	}
	to := min(from+size, n)
	next := ""
	if to < n {
		next = "ec2fake-" + strconv.Itoa(to)
	}
	return window{from, to}, next, nil
}

// list returns the values of a flat list parameter: prefix.1, prefix.2, …
func list(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// filters are the Filter.N parameters of a request: each name with the
// values any of which may match.
type filters map[string][]string

// parseFilters reads Filter.N.Name and Filter.N.Value.M, refusing names not
// in known as EC2 does; "tag:*" in known admits every tag:<key> filter.
func parseFilters(f url.Values, known ...string) (filters, *apiError) {
	out := filters{}
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i) + "."
		name := f.Get(p + "Name")
		if name == "" {
			return out, nil
		}
		ok := slices.Contains(known, name) || (strings.HasPrefix(name, "tag:") && slices.Contains(known, "tag:*"))
		if !ok {
			return nil, invalidParameter("The filter '%s' is invalid", name)
		}
		out[name] = append(out[name], list(f, p+"Value")...)
	}
}

// match reports whether an item with values (filter name → the item's
// values) passes every filter; a filter passes when one of its values, which
// may hold * and ? wildcards, matches one of the item's.
func (fs filters) match(values map[string][]string) bool {
	for name, want := range fs {
		if !slices.ContainsFunc(want, func(p string) bool {
			return slices.ContainsFunc(values[name], func(v string) bool { return glob(p, v) })
		}) {
			return false
		}
	}
	return true
}

// glob matches s against pattern with EC2's filter wildcards: * for any run
// of characters, ? for one, and a backslash makes the next character literal.
func glob(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '\\':
		if len(pattern) > 1 {
			return s != "" && s[0] == pattern[1] && glob(pattern[2:], s[1:])
		}
		return s == "\\"
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == pattern[0] && glob(pattern[1:], s[1:])
	}
}
