package ec2fake

import (
	"encoding/xml"
	"fmt"
	"net/http"
)

// STS: the fake also answers sts:GetCallerIdentity, the call that says
// which account an access key belongs to, on the same endpoint (point the
// STS client's BaseEndpoint at URL too). STS speaks the query protocol
// like EC2 but with its own API version, response shapes and error
// envelope (<ErrorResponse><Error>…), which the SDK's STS client insists on.

// STSAPIVersion is the STS API version the fake answers.
const STSAPIVersion = "2011-06-15"

// stsXMLNS is STS's response namespace.
const stsXMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

// actionGetCallerIdentity is the STS action the fake answers.
const actionGetCallerIdentity = "GetCallerIdentity"

type xmlCallerIdentity struct {
	XMLName   xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserID    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

type xmlSTSError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// getCallerIdentity answers whose key signed the request: the account the
// key belongs to and an IAM user's ARN in it.
func (s *Server) getCallerIdentity(req *request) (any, *apiError) {
	return xmlCallerIdentity{Xmlns: stsXMLNS, RequestID: req.id, Account: req.account,
		Arn:    fmt.Sprintf("arn:aws:iam::%s:user/daestro", req.account),
		UserID: "AIDA" + req.accessKeyID[min(4, len(req.accessKeyID)):]}, nil
}

// writeSTSError writes an error in STS's envelope; an unknown key is STS's
// InvalidClientTokenId (EC2 says AuthFailure).
func writeSTSError(w http.ResponseWriter, req *request, e *apiError) {
	code, msg := e.code, e.message
	if code == "AuthFailure" {
		code, msg = "InvalidClientTokenId", "The security token included in the request is invalid."
	}
	status := e.status
	if status == http.StatusUnauthorized {
		status = http.StatusForbidden
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	writeXML(w, status, xmlSTSError{Xmlns: stsXMLNS, Type: kind, Code: code, Message: msg, RequestID: req.id})
}
