//go:build conformance

package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	conformancev1 "github.com/parley-chat/parley/internal/conformance/gen/connectrpc/conformance/v1"
	"github.com/parley-chat/parley/internal/conformance/gen/connectrpc/conformance/v1/conformancev1connect"
	"github.com/parley-chat/parley/server"
)

// Mount is the server.MountFunc of the ConformanceService. Unimplemented
// stays unimplemented, as the suite expects.
func Mount(opts ...connect.HandlerOption) (string, http.Handler) {
	path, h := conformancev1connect.NewConformanceServiceHandler(service{}, opts...)
	return path, withQuery(h)
}

var _ server.MountFunc = Mount

type service struct {
	conformancev1connect.UnimplementedConformanceServiceHandler
}

type queryKey struct{}

// withQuery keeps the query of a Connect GET request in the context: the
// suite checks that the server saw it, and connect-go does not expose it.
func withQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			r = r.WithContext(context.WithValue(r.Context(), queryKey{}, r.URL.Query()))
		}
		h.ServeHTTP(w, r)
	})
}

func (service) Unary(ctx context.Context, req *connect.Request[conformancev1.UnaryRequest]) (*connect.Response[conformancev1.UnaryResponse], error) {
	payload, err := unary(ctx, req.Msg.GetResponseDefinition(), req.Header(), []proto.Message{req.Msg})
	if err != nil {
		return nil, err
	}
	resp := connect.NewResponse(&conformancev1.UnaryResponse{Payload: payload})
	setMeta(req.Msg.GetResponseDefinition(), resp.Header(), resp.Trailer())
	return resp, nil
}

func (service) IdempotentUnary(ctx context.Context, req *connect.Request[conformancev1.IdempotentUnaryRequest]) (*connect.Response[conformancev1.IdempotentUnaryResponse], error) {
	payload, err := unary(ctx, req.Msg.GetResponseDefinition(), req.Header(), []proto.Message{req.Msg})
	if err != nil {
		return nil, err
	}
	resp := connect.NewResponse(&conformancev1.IdempotentUnaryResponse{Payload: payload})
	setMeta(req.Msg.GetResponseDefinition(), resp.Header(), resp.Trailer())
	return resp, nil
}

func (service) ClientStream(ctx context.Context, stream *connect.ClientStream[conformancev1.ClientStreamRequest]) (*connect.Response[conformancev1.ClientStreamResponse], error) {
	var (
		def  *conformancev1.UnaryResponseDefinition
		reqs []proto.Message
	)
	for stream.Receive() {
		if len(reqs) == 0 {
			def = stream.Msg().GetResponseDefinition()
		}
		reqs = append(reqs, stream.Msg())
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	payload, err := unary(ctx, def, stream.RequestHeader(), reqs)
	if err != nil {
		return nil, err
	}
	resp := connect.NewResponse(&conformancev1.ClientStreamResponse{Payload: payload})
	setMeta(def, resp.Header(), resp.Trailer())
	return resp, nil
}

func (service) ServerStream(ctx context.Context, req *connect.Request[conformancev1.ServerStreamRequest], stream *connect.ServerStream[conformancev1.ServerStreamResponse]) error {
	def := req.Msg.GetResponseDefinition()
	setMeta(def, stream.ResponseHeader(), stream.ResponseTrailer())
	delay := time.Duration(def.GetResponseDelayMs()) * time.Millisecond
	info := func() (*conformancev1.ConformancePayload_RequestInfo, error) {
		return requestInfo(ctx, req.Header(), []proto.Message{req.Msg})
	}
	for i, data := range def.GetResponseData() {
		resp := &conformancev1.ServerStreamResponse{Payload: &conformancev1.ConformancePayload{Data: data}}
		if i == 0 {
			ri, err := info()
			if err != nil {
				return err
			}
			resp.Payload.RequestInfo = ri
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	if def.GetError() == nil {
		return nil
	}
	var ri proto.Message
	if len(def.GetResponseData()) == 0 {
		var err error
		if ri, err = info(); err != nil {
			return err
		}
	}
	return toConnectError(def.GetError(), ri)
}

func (service) BidiStream(ctx context.Context, stream *connect.BidiStream[conformancev1.BidiStreamRequest, conformancev1.BidiStreamResponse]) error {
	var (
		def        *conformancev1.StreamResponseDefinition
		fullDuplex bool
		delay      time.Duration
		sent       int
		reqs       []proto.Message
		all        []proto.Message
	)
	send := func(requests []proto.Message) error {
		resp := &conformancev1.BidiStreamResponse{Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent]}}
		if sent == 0 {
			ri, err := requestInfo(ctx, stream.RequestHeader(), requests)
			if err != nil {
				return err
			}
			resp.Payload.RequestInfo = ri
		} else if fullDuplex {
			anys, err := asAnys(requests)
			if err != nil {
				return err
			}
			resp.Payload.RequestInfo = &conformancev1.ConformancePayload_RequestInfo{Requests: anys}
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		sent++
		return nil
	}
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		reqs = append(reqs, req)
		all = append(all, req)
		if len(all) == 1 {
			def = req.GetResponseDefinition()
			fullDuplex = req.GetFullDuplex()
			delay = time.Duration(def.GetResponseDelayMs()) * time.Millisecond
			setMeta(def, stream.ResponseHeader(), stream.ResponseTrailer())
		}
		if fullDuplex {
			if sent >= len(def.GetResponseData()) {
				break
			}
			if err := send(reqs); err != nil {
				return err
			}
			reqs = nil
		}
	}
	for sent < len(def.GetResponseData()) {
		if err := send(reqs); err != nil {
			return err
		}
	}
	if def.GetError() == nil {
		return nil
	}
	var ri proto.Message
	if sent == 0 {
		var err error
		if ri, err = requestInfo(ctx, stream.RequestHeader(), all); err != nil {
			return err
		}
	}
	return toConnectError(def.GetError(), ri)
}

// unary builds the payload a unary-response method answers with, or the
// error it was asked to fail with (carrying the request info as a detail).
func unary(ctx context.Context, def *conformancev1.UnaryResponseDefinition, header http.Header, reqs []proto.Message) (*conformancev1.ConformancePayload, error) {
	ri, err := requestInfo(ctx, header, reqs)
	if err != nil {
		return nil, err
	}
	if e := def.GetError(); e != nil {
		cerr := toConnectError(e, ri)
		setMeta(def, cerr.Meta(), cerr.Meta())
		if err := sleep(ctx, time.Duration(def.GetResponseDelayMs())*time.Millisecond); err != nil {
			return nil, err
		}
		return nil, cerr
	}
	if err := sleep(ctx, time.Duration(def.GetResponseDelayMs())*time.Millisecond); err != nil {
		return nil, err
	}
	return &conformancev1.ConformancePayload{RequestInfo: ri, Data: def.GetResponseData()}, nil
}

type responseMeta interface {
	GetResponseHeaders() []*conformancev1.Header
	GetResponseTrailers() []*conformancev1.Header
}

// setMeta copies the response headers and trailers the suite asked for.
func setMeta(def responseMeta, header, trailer http.Header) {
	if def == nil {
		return
	}
	for _, h := range def.GetResponseHeaders() {
		for _, v := range h.GetValue() {
			header.Add(h.GetName(), v)
		}
	}
	for _, h := range def.GetResponseTrailers() {
		for _, v := range h.GetValue() {
			trailer.Add(h.GetName(), v)
		}
	}
}

func requestInfo(ctx context.Context, header http.Header, reqs []proto.Message) (*conformancev1.ConformancePayload_RequestInfo, error) {
	anys, err := asAnys(reqs)
	if err != nil {
		return nil, err
	}
	ri := &conformancev1.ConformancePayload_RequestInfo{
		RequestHeaders: toHeaders(header),
		Requests:       anys,
	}
	// Parley caps every unary call (server.WithMaxUnaryDuration), so the
	// context has a deadline even when the client set none: echo it only
	// when the client sent a timeout.
	if deadline, ok := ctx.Deadline(); ok && (header.Get("Connect-Timeout-Ms") != "" || header.Get("Grpc-Timeout") != "") {
		ms := time.Until(deadline).Milliseconds()
		ri.TimeoutMs = &ms
	}
	if query, ok := ctx.Value(queryKey{}).(url.Values); ok && len(query) > 0 {
		ri.ConnectGetInfo = &conformancev1.ConformancePayload_ConnectGetInfo{QueryParams: toHeaders(query)}
	}
	return ri, nil
}

func toHeaders(m map[string][]string) []*conformancev1.Header {
	out := make([]*conformancev1.Header, 0, len(m))
	for k, v := range m {
		out = append(out, &conformancev1.Header{Name: k, Value: v})
	}
	return out
}

func asAnys(msgs []proto.Message) ([]*anypb.Any, error) {
	out := make([]*anypb.Any, 0, len(msgs))
	for _, m := range msgs {
		a, err := anypb.New(m)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("wrap request: %w", err))
		}
		out = append(out, a)
	}
	return out, nil
}

// toConnectError turns the suite's error definition into a *connect.Error,
// with the request info appended to its details when given.
func toConnectError(e *conformancev1.Error, requestInfo proto.Message) *connect.Error {
	cerr := connect.NewError(connect.Code(e.GetCode()), errors.New(e.GetMessage()))
	details := e.GetDetails()
	for _, d := range details {
		detail, err := connect.NewErrorDetail(d)
		if err != nil {
			return connect.NewError(connect.CodeInternal, err)
		}
		cerr.AddDetail(detail)
	}
	if requestInfo != nil {
		detail, err := connect.NewErrorDetail(requestInfo)
		if err != nil {
			return connect.NewError(connect.CodeInternal, err)
		}
		cerr.AddDetail(detail)
	}
	return cerr
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
}
