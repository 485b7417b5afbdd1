import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { ApiProblemResponses } from '../common/api-problems.decorator';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { Access, CurrentPrincipal } from './access.decorator';
import { SESSION_COOKIE } from './auth.guard';
import { AuthService } from './auth.service';
import {
  AuthLoginDto,
  AuthMeResponseDto,
  AuthSessionInfoResponseDto,
  AuthSessionResponseDto,
  PasswordChangeDto,
  PasswordChangedResponseDto,
  TokenCreateDto,
  TokenCreatedResponseDto,
  TokenListResponseDto,
} from './dto/auth.dto';
import type { Principal } from './principal';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post('login')
  @Access('public')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Log in',
    description:
      'Sets the `keyflow_session` cookie (HttpOnly, SameSite=Lax, Secure over HTTPS). Limited per username and per client address: 429 with `Retry-After` beyond the limit.',
  })
  @ApiOkResponse({ type: AuthSessionResponseDto })
  @ApiProblemResponses(400, 401, 429)
  async login(
    @Body() body: AuthLoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AuthSessionResponseDto> {
    const { sessionId, user } = await this.auth.login(
      body.username,
      body.password,
      request.ip,
      request.cookies[SESSION_COOKIE],
    );
    void reply.setCookie(SESSION_COOKIE, sessionId, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: request.protocol === 'https',
      maxAge: this.config.SESSION_ABSOLUTE_TIMEOUT_S,
    });
    return { username: user.username, role: user.role, instance: this.config.KEYFLOW_INSTANCE };
  }

  @Post('logout')
  @Access('authenticated')
  @HttpCode(204)
  @ApiCookieAuth()
  @ApiOperation({ summary: 'Log out: the session ends on every instance' })
  @ApiNoContentResponse()
  @ApiProblemResponses(401, 403)
  async logout(
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logout(principal);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Get('me')
  @Access('authenticated')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who is calling, and which instance answered' })
  @ApiOkResponse({ type: AuthMeResponseDto })
  @ApiProblemResponses(401)
  me(@CurrentPrincipal() principal: Principal): AuthMeResponseDto {
    return {
      username: principal.username,
      role: principal.role,
      authenticatedBy: principal.via,
      grants: [...principal.grants],
      instance: this.config.KEYFLOW_INSTANCE,
    };
  }

  @Get('session')
  @Access('authenticated')
  @ApiCookieAuth()
  @ApiOperation({
    summary: 'The session of this cookie: who, which instance answered, when it began and when it ends',
    description:
      'Every request through any gateway and instance uses the same session (it lives in Redis). A bearer token has no session: 400.',
  })
  @ApiOkResponse({ type: AuthSessionInfoResponseDto })
  @ApiProblemResponses(400, 401)
  session(@CurrentPrincipal() principal: Principal): AuthSessionInfoResponseDto {
    if (principal.via !== 'session' || principal.sessionStartedAt === undefined) {
      throw new DomainError(ErrorCode.INVALID_REQUEST, 'a bearer token has no session; log in to get one');
    }
    const startedAt = principal.sessionStartedAt;
    const idleExpiresAt = Date.now() + this.config.SESSION_IDLE_TIMEOUT_S * 1000;
    const absoluteExpiresAt = startedAt + this.config.SESSION_ABSOLUTE_TIMEOUT_S * 1000;
    return {
      username: principal.username,
      role: principal.role,
      instance: this.config.KEYFLOW_INSTANCE,
      startedAt: new Date(startedAt).toISOString(),
      idleExpiresAt: new Date(idleExpiresAt).toISOString(),
      absoluteExpiresAt: new Date(absoluteExpiresAt).toISOString(),
      expiresAt: new Date(Math.min(idleExpiresAt, absoluteExpiresAt)).toISOString(),
    };
  }

  @Post('password')
  @Access('authenticated')
  @HttpCode(200)
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Change your password',
    description:
      'The current password is required (a wrong one counts as a failed login, with the same limits). Every other ' +
      'session of yours ends at once on every instance; this one stays. API tokens keep working: revoke them apart.',
  })
  @ApiOkResponse({ type: PasswordChangedResponseDto })
  @ApiProblemResponses(400, 401, 403, 429)
  changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body() body: PasswordChangeDto,
    @Req() request: FastifyRequest,
  ): Promise<PasswordChangedResponseDto> {
    return this.auth.changePassword(principal, body.currentPassword, body.newPassword, request.ip);
  }

  @Post('tokens')
  @Access('authenticated')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Create a bearer token for a machine client',
    description:
      'The token is shown once. `grants` narrows it to a subset of your own (403 names what you do not have); ' +
      '`expiresIn` (seconds) makes it expire. A token never outlives, nor allows more than, the token that made it.',
  })
  @ApiCreatedResponse({ type: TokenCreatedResponseDto })
  @ApiProblemResponses(400, 401, 403)
  createToken(
    @CurrentPrincipal() principal: Principal,
    @Body() body: TokenCreateDto,
  ): Promise<TokenCreatedResponseDto> {
    return this.auth.createToken(principal, {
      name: body.name,
      ...(body.grants !== undefined ? { grants: body.grants } : {}),
      ...(body.expiresIn !== undefined ? { expiresIn: body.expiresIn } : {}),
    });
  }

  @Get('tokens')
  @Access('authenticated')
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'List your tokens',
    description: 'Id, name, grants, created, expires and last used (to the minute); never the token itself.',
  })
  @ApiOkResponse({ type: TokenListResponseDto })
  @ApiProblemResponses(401)
  async listTokens(@CurrentPrincipal() principal: Principal): Promise<TokenListResponseDto> {
    return { tokens: await this.auth.listTokens(principal) };
  }

  @Delete('tokens/:id')
  @Access('authenticated')
  @HttpCode(204)
  @ApiCookieAuth()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Revoke a token, at once on every instance', description: 'Admins may revoke any token.' })
  @ApiNoContentResponse()
  @ApiProblemResponses(400, 401, 403, 404)
  revokeToken(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe({ version: undefined })) id: string,
  ): Promise<void> {
    return this.auth.revokeToken(principal, id);
  }
}
