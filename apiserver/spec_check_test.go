package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API tests hold every exchange to schemas/openapi.json: a response
// always, a request whenever the server accepted it (a request the server
// takes but the document forbids is a mismatch too; one the server refuses
// may be a test of bad input).
var spec struct {
	once   sync.Once
	router routers.Router
	err    error
}

func specRouter() (routers.Router, error) {
	spec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile("../schemas/openapi.json")
		if err != nil {
			spec.err = err
			return
		}
		// Match paths whatever host the test server listens on.
		doc.Servers = nil
		spec.router, spec.err = gorillamux.NewRouter(doc)
	})
	return spec.router, spec.err
}

// checkAgainstSpec reports how the exchange departs from the document; ""
// when it does not.
func checkAgainstSpec(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) string {
	router, err := specRouter()
	if err != nil {
		return "schemas/openapi.json does not load: " + err.Error()
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(r)
	if err != nil {
		return fmt.Sprintf("%s %s is not in schemas/openapi.json: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	var problems []string
	if status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			problems = append(problems, "request: "+err.Error())
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("response %d: %v", status, err))
	}
	return strings.Join(problems, "\n")
}
