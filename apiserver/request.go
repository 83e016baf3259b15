package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

// maxBodyBytes bounds request bodies; scripts are the largest legitimate ones.
const maxBodyBytes = 1 << 20

// bindJSON decodes the request body into v strictly: unknown fields, trailing
// data and wrong types are EINVALID errors naming the field.
func bindJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return domain.Errorf(domain.EINVALID, "request body is larger than %d bytes", maxBodyBytes)
		}
		return domain.Errorf(domain.EINVALID, "cannot read request body: %v", err)
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return domain.Errorf(domain.EINVALID, "request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return domain.Errorf(domain.EINVALID, "request body has data after the JSON object")
	}
	return nil
}

// jsonError turns encoding/json errors into sentences a user can act on.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return domain.Errorf(domain.EINVALID, "request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.Errorf(domain.EINVALID, "request body must be a JSON object, not %s", typ.Value)
		}
		return domain.Errorf(domain.EINVALID, "%s: must be %s, not %s", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.EINVALID, "request body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return domain.Errorf(domain.EINVALID, "unknown field %s in request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return domain.Errorf(domain.EINVALID, "request body is not valid: %v", err)
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return fmt.Sprintf("of type %s", kind)
	}
}

// pageRequest reads limit and next_token from the query string.
func pageRequest(c *gin.Context) (domain.PageRequest, error) {
	return domain.ParsePageRequest(c.Query("limit"), c.Query("next_token"))
}
